"""brokers: the shares of an agency's post-subsidy passed to its brokers

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMANT_BEFORE = (
    "(kind = 'broker') = (broker_id IS NOT NULL AND role IS NOT NULL)"
    " AND (kind IN ('party', 'agency')) = (organization_id IS NOT NULL)"
    " AND (kind = 'agency') = (deal_id IS NULL)"
)
CLAIMANT_AFTER = (
    "(kind = 'broker') = (role IS NOT NULL)"
    " AND (kind IN ('broker', 'agency_share')) = (broker_id IS NOT NULL)"
    " AND (kind IN ('party', 'agency')) = (organization_id IS NOT NULL)"
    " AND (kind IN ('agency', 'agency_share')) = (deal_id IS NULL)"
    " AND (kind = 'agency_share') = (agency_claim_id IS NOT NULL)"
)
SHARE_BEFORE = "share_percent > 0 AND share_percent <= 100"
SHARE_AFTER = (
    "share_percent >= 0 AND share_percent <= 100 AND (share_percent > 0 OR kind = 'agency_share')"
)


def _replace_checks(claimant: str, share: str) -> None:
    for name in ("claimant_by_kind", "share_range"):
        op.drop_constraint(op.f(f"ck_reward_claims_{name}"), "reward_claims", type_="check")
    op.create_check_constraint(op.f("ck_reward_claims_claimant_by_kind"), "reward_claims", claimant)
    op.create_check_constraint(op.f("ck_reward_claims_share_range"), "reward_claims", share)


def upgrade() -> None:
    # A new enum value cannot be used in the transaction that adds it.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE claim_kind ADD VALUE IF NOT EXISTS 'agency_share'")
    op.add_column("reward_claims", sa.Column("agency_claim_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_reward_claims_agency_claim_id_reward_claims"),
        "reward_claims",
        "reward_claims",
        ["agency_claim_id"],
        ["id"],
    )
    op.create_index(op.f("ix_reward_claims_agency_claim_id"), "reward_claims", ["agency_claim_id"])
    op.create_index(
        "uq_reward_claims_agency_share",
        "reward_claims",
        ["agency_claim_id", "broker_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'agency_share'"),
    )
    _replace_checks(CLAIMANT_AFTER, SHARE_AFTER)


def downgrade() -> None:
    # The enum keeps its value (PostgreSQL cannot drop one); the shares that used it go.
    op.execute(
        "DELETE FROM reward_entries WHERE claim_id IN"
        " (SELECT id FROM reward_claims WHERE kind = 'agency_share')"
    )
    op.execute("DELETE FROM reward_claims WHERE kind = 'agency_share'")
    _replace_checks(CLAIMANT_BEFORE, SHARE_BEFORE)
    op.drop_index(
        "uq_reward_claims_agency_share",
        table_name="reward_claims",
        postgresql_where=sa.text("kind = 'agency_share'"),
    )
    op.drop_index(op.f("ix_reward_claims_agency_claim_id"), table_name="reward_claims")
    op.drop_constraint(
        op.f("fk_reward_claims_agency_claim_id_reward_claims"), "reward_claims", type_="foreignkey"
    )
    op.drop_column("reward_claims", "agency_claim_id")

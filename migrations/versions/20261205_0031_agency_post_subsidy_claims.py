"""brokers: transfer agencies' yearly post-subsidy claims (no deal)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new enum value cannot be used in the transaction that adds it.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE claim_kind ADD VALUE IF NOT EXISTS 'agency'")
    op.alter_column("reward_claims", "deal_id", existing_type=sa.Uuid(), nullable=True)
    op.drop_constraint(op.f("ck_reward_claims_claimant_by_kind"), "reward_claims", type_="check")
    op.create_check_constraint(
        op.f("ck_reward_claims_claimant_by_kind"),
        "reward_claims",
        "(kind = 'broker') = (broker_id IS NOT NULL AND role IS NOT NULL)"
        " AND (kind IN ('party', 'agency')) = (organization_id IS NOT NULL)"
        " AND (kind = 'agency') = (deal_id IS NULL)",
    )
    op.create_index(
        "uq_reward_claims_agency_application",
        "reward_claims",
        ["organization_id", "policy_code", "policy_year"],
        unique=True,
        postgresql_where=sa.text("kind = 'agency'"),
    )


def downgrade() -> None:
    # The enum keeps its value (PostgreSQL cannot drop one); the claims that used it go.
    op.execute(
        "DELETE FROM reward_entries WHERE claim_id IN"
        " (SELECT id FROM reward_claims WHERE kind = 'agency')"
    )
    op.execute("DELETE FROM reward_claims WHERE kind = 'agency'")
    op.drop_index(
        "uq_reward_claims_agency_application",
        table_name="reward_claims",
        postgresql_where=sa.text("kind = 'agency'"),
    )
    op.drop_constraint(op.f("ck_reward_claims_claimant_by_kind"), "reward_claims", type_="check")
    op.create_check_constraint(
        op.f("ck_reward_claims_claimant_by_kind"),
        "reward_claims",
        "(kind = 'broker') = (broker_id IS NOT NULL AND role IS NOT NULL)"
        " AND (kind = 'party') = (organization_id IS NOT NULL)",
    )
    op.alter_column("reward_claims", "deal_id", existing_type=sa.Uuid(), nullable=False)

"""challenges: awards with their publicity period, objections; deals opened from a challenge

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

award_state = postgresql.ENUM(
    "publicity", "confirmed", "revoked", name="award_state", create_type=False
)
objection_state = postgresql.ENUM(
    "open", "upheld", "dismissed", "superseded", name="objection_state", create_type=False
)


def upgrade() -> None:
    # A new enum value cannot be used in the transaction that adds it.
    with op.get_context().autocommit_block():
        for value in ("awarded", "concluded", "unawarded"):
            op.execute(f"ALTER TYPE challenge_state ADD VALUE IF NOT EXISTS '{value}'")
        op.execute("ALTER TYPE deal_source ADD VALUE IF NOT EXISTS 'challenge'")
    award_state.create(op.get_bind(), checkfirst=True)
    objection_state.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "challenge_awards",
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", award_state, nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("publicity_working_days", sa.Integer(), nullable=True),
        sa.Column("publicity_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "proposal_id IS NOT NULL OR reason IS NOT NULL",
            name=op.f("ck_challenge_awards_winner_or_reason"),
        ),
        sa.CheckConstraint(
            "(proposal_id IS NULL) = (publicity_ends_at IS NULL)",
            name=op.f("ck_challenge_awards_publicity_of_a_winner"),
        ),
        sa.CheckConstraint(
            "state <> 'confirmed' OR proposal_id IS NULL OR deal_id IS NOT NULL",
            name=op.f("ck_challenge_awards_confirmed_has_a_deal"),
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_awards_challenge_id_challenges"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["challenge_proposals.id"],
            name=op.f("fk_challenge_awards_proposal_id_challenge_proposals"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_challenge_awards_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_challenge_awards_deal_id_deals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_awards")),
        sa.UniqueConstraint("deal_id", name=op.f("uq_challenge_awards_deal_id")),
    )
    op.create_index(op.f("ix_challenge_awards_challenge_id"), "challenge_awards", ["challenge_id"])
    op.create_index(
        "uq_challenge_awards_standing",
        "challenge_awards",
        ["challenge_id"],
        unique=True,
        postgresql_where=sa.text("state <> 'revoked'"),
    )
    op.create_table(
        "award_objections",
        sa.Column("award_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("filed_by_id", sa.Uuid(), nullable=True),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", objection_state, nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by_id", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(state = 'open') = (resolved_at IS NULL)",
            name=op.f("ck_award_objections_resolved_when_decided"),
        ),
        sa.ForeignKeyConstraint(
            ["award_id"],
            ["challenge_awards.id"],
            name=op.f("fk_award_objections_award_id_challenge_awards"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_award_objections_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"], ["users.id"], name=op.f("fk_award_objections_filed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_award_objections_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_objections")),
        sa.UniqueConstraint(
            "award_id",
            "organization_id",
            name=op.f("uq_award_objections_award_id_organization_id"),
        ),
    )
    op.create_index(op.f("ix_award_objections_award_id"), "award_objections", ["award_id"])


def downgrade() -> None:
    # The enums keep their added values (PostgreSQL cannot drop one); rows using them go back.
    op.drop_index(op.f("ix_award_objections_award_id"), table_name="award_objections")
    op.drop_table("award_objections")
    op.drop_index(
        "uq_challenge_awards_standing",
        table_name="challenge_awards",
        postgresql_where=sa.text("state <> 'revoked'"),
    )
    op.drop_index(op.f("ix_challenge_awards_challenge_id"), table_name="challenge_awards")
    op.drop_table("challenge_awards")
    objection_state.drop(op.get_bind(), checkfirst=True)
    award_state.drop(op.get_bind(), checkfirst=True)
    op.execute(
        "UPDATE challenges SET state = 'published'"
        " WHERE state IN ('awarded', 'concluded', 'unawarded')"
    )

"""challenges: proposals (揭榜方案) to published challenges

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-05 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = postgresql.ENUM("submitted", "withdrawn", name="proposal_state", create_type=False)


def upgrade() -> None:
    STATE.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "challenge_proposals",
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("approach", sa.Text(), nullable=False),
        sa.Column("team", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("milestones", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("result_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("submitted_by_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_challenge_proposals_price_positive")),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_proposals_challenge_id_challenges"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_challenge_proposals_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_challenge_proposals_submitted_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_proposals")),
        sa.UniqueConstraint(
            "challenge_id",
            "organization_id",
            name=op.f("uq_challenge_proposals_challenge_id_organization_id"),
        ),
    )
    op.create_index(
        op.f("ix_challenge_proposals_challenge_id"), "challenge_proposals", ["challenge_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_challenge_proposals_challenge_id"), table_name="challenge_proposals")
    op.drop_table("challenge_proposals")
    STATE.drop(op.get_bind(), checkfirst=True)

"""challenges: open challenges (揭榜挂帅) made from demands, screened and published

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = postgresql.ENUM(
    "pending_review", "rejected", "published", name="challenge_state", create_type=False
)


def upgrade() -> None:
    STATE.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "challenges",
        sa.Column("demand_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("indicators", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("field_code", sa.String(length=60), nullable=False),
        sa.Column("budget_min_fen", sa.BigInteger(), nullable=True),
        sa.Column("budget_max_fen", sa.BigInteger(), nullable=True),
        sa.Column("prize_fen", sa.BigInteger(), nullable=True),
        sa.Column("proposals_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open_beyond_region", sa.Boolean(), nullable=False),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("submitted_by_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=True),
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
        sa.CheckConstraint(
            "(prize_fen IS NULL) <> (budget_min_fen IS NULL AND budget_max_fen IS NULL)",
            name=op.f("ck_challenges_budget_or_prize"),
        ),
        sa.CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name=op.f("ck_challenges_budget_range"),
        ),
        sa.CheckConstraint(
            "prize_fen IS NULL OR prize_fen > 0", name=op.f("ck_challenges_prize_positive")
        ),
        sa.CheckConstraint(
            "state <> 'published' OR published_at IS NOT NULL",
            name=op.f("ck_challenges_published_has_a_day"),
        ),
        sa.ForeignKeyConstraint(
            ["demand_id"], ["demands.id"], name=op.f("fk_challenges_demand_id_demands")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_challenges_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_challenges_reviewed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_challenges_submitted_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
        sa.UniqueConstraint("demand_id", name=op.f("uq_challenges_demand_id")),
    )
    op.create_index(op.f("ix_challenges_organization_id"), "challenges", ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_challenges_organization_id"), table_name="challenges")
    op.drop_table("challenges")
    STATE.drop(op.get_bind(), checkfirst=True)

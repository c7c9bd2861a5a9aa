"""challenges: named experts and their scores of proposals

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenge_experts",
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_by_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["users.id"], name=op.f("fk_challenge_experts_assigned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_experts_challenge_id_challenges"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_challenge_experts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_experts")),
        sa.UniqueConstraint(
            "challenge_id", "user_id", name=op.f("uq_challenge_experts_challenge_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_challenge_experts_challenge_id"), "challenge_experts", ["challenge_id"]
    )
    op.create_table(
        "proposal_scores",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("expert_id", sa.Uuid(), nullable=False),
        sa.Column("sheet_version", sa.Integer(), nullable=False),
        sa.Column("scores", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("declared_no_conflict", sa.Boolean(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("declared_no_conflict", name=op.f("ck_proposal_scores_declared")),
        sa.CheckConstraint(
            "total >= 0 AND total <= 100", name=op.f("ck_proposal_scores_total_range")
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"],
            ["challenge_experts.id"],
            name=op.f("fk_proposal_scores_expert_id_challenge_experts"),
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["challenge_proposals.id"],
            name=op.f("fk_proposal_scores_proposal_id_challenge_proposals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_scores")),
        sa.UniqueConstraint(
            "proposal_id", "expert_id", name=op.f("uq_proposal_scores_proposal_id_expert_id")
        ),
    )
    op.create_index(op.f("ix_proposal_scores_proposal_id"), "proposal_scores", ["proposal_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_proposal_scores_proposal_id"), table_name="proposal_scores")
    op.drop_table("proposal_scores")
    op.drop_index(op.f("ix_challenge_experts_challenge_id"), table_name="challenge_experts")
    op.drop_table("challenge_experts")

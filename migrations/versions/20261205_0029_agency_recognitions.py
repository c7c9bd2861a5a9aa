"""accounts: transfer agencies recognized by the region, for a period

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency_recognitions",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "valid_from <= valid_until", name=op.f("ck_agency_recognitions_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_agency_recognitions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_agency_recognitions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_recognitions")),
    )
    op.create_index(
        op.f("ix_agency_recognitions_organization_id"),
        "agency_recognitions",
        ["organization_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_agency_recognitions_organization_id"), table_name="agency_recognitions")
    op.drop_table("agency_recognitions")

"""organizations: VAT taxpayer kind and period

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 00:42:22.321788
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VAT_TAXPAYER_KIND = sa.Enum("general", "small_scale", name="vat_taxpayer_kind")
VAT_PERIOD = sa.Enum("month", "quarter", name="vat_period")


def upgrade() -> None:
    VAT_TAXPAYER_KIND.create(op.get_bind())
    VAT_PERIOD.create(op.get_bind())
    op.add_column(
        "organizations",
        sa.Column("vat_taxpayer_kind", VAT_TAXPAYER_KIND, server_default="general", nullable=False),
    )
    op.add_column(
        "organizations",
        sa.Column("vat_period", VAT_PERIOD, server_default="month", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("organizations", "vat_period")
    op.drop_column("organizations", "vat_taxpayer_kind")
    VAT_PERIOD.drop(op.get_bind())
    VAT_TAXPAYER_KIND.drop(op.get_bind())

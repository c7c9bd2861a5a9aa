"""deals: related taxes (相关税费) declared against a received payment

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "transformation_incomes",
        sa.Column("related_taxes_fen", sa.BigInteger(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("transformation_incomes", "related_taxes_fen")

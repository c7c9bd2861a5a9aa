"""auctions: two-phase timing (自由报价期 / 限时报价期)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("auctions", sa.Column("countdown_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("auctions", "countdown_seconds")

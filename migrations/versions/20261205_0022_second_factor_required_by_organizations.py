"""accounts: organizations may require a second factor of their members; sign-ins remember
whether they proved one

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "organizations",
        sa.Column(
            "second_factor_required", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )
    op.add_column(
        "refresh_tokens",
        sa.Column("second_factor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("refresh_tokens", "second_factor")
    op.drop_column("organizations", "second_factor_required")

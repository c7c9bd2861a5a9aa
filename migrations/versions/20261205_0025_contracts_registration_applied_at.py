"""deals: when a contract applied for registration (the registrar's 30 days count from it)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contracts",
        sa.Column("registration_applied_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Contracts signed before this revision applied when their version in force was signed.
    op.execute(
        """
        UPDATE contracts SET registration_applied_at = greatest(v.seller_signed_at,
                                                               v.buyer_signed_at)
        FROM contract_versions v
        WHERE v.contract_id = contracts.id AND v.number = contracts.effective_version
          AND contracts.state = 'signed'
        """
    )


def downgrade() -> None:
    op.drop_column("contracts", "registration_applied_at")

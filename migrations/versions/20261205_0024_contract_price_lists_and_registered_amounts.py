"""deals: a contract version's price list, and the technology-transaction amount the registrar
checked, with its deductions

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contract_versions",
        sa.Column(
            "price_items",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "contract_versions", sa.Column("registered_transaction_fen", sa.BigInteger(), nullable=True)
    )
    op.add_column(
        "contract_versions",
        sa.Column("deductions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_check_constraint(
        "registered_within_declared",
        "contract_versions",
        "registered_transaction_fen IS NULL OR "
        "(registered_transaction_fen > 0 AND registered_transaction_fen <= transaction_fen)",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_contract_versions_registered_within_declared"), "contract_versions", type_="check"
    )
    op.drop_column("contract_versions", "deductions")
    op.drop_column("contract_versions", "registered_transaction_fen")
    op.drop_column("contract_versions", "price_items")

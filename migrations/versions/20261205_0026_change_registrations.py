"""deals: change registrations (变更登记) — the figure that counts is the registrar's latest, and
each version records when it was registered

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("registered_transaction_fen", sa.BigInteger()))
    op.add_column(
        "contract_versions", sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("contract_versions", sa.Column("registered_by_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_contract_versions_registered_by_id_users"),
        "contract_versions",
        "users",
        ["registered_by_id"],
        ["id"],
    )
    # Registered contracts: the version in force is the registered one, at its declared figure
    # unless the registrar checked another.
    op.execute(
        """
        UPDATE contract_versions v
        SET registered_at = c.registered_at, registered_by_id = c.registered_by_id,
            registered_transaction_fen = coalesce(v.registered_transaction_fen, v.transaction_fen)
        FROM contracts c
        WHERE v.contract_id = c.id AND v.number = c.effective_version
          AND c.registration_number IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE contracts c SET registered_transaction_fen = v.registered_transaction_fen
        FROM contract_versions v
        WHERE v.contract_id = c.id AND v.number = c.effective_version
          AND c.registration_number IS NOT NULL
        """
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_contract_versions_registered_by_id_users"), "contract_versions", type_="foreignkey"
    )
    op.drop_column("contract_versions", "registered_by_id")
    op.drop_column("contract_versions", "registered_at")
    op.drop_column("contracts", "registered_transaction_fen")

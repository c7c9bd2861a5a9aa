"""auctions: the sealed single-round format (一次性报价) and its bids

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORMAT = postgresql.ENUM("english", "sealed", name="auction_format", create_type=False)


def upgrade() -> None:
    FORMAT.create(op.get_bind(), checkfirst=True)
    op.add_column("auctions", sa.Column("format", FORMAT, server_default="english", nullable=False))
    op.create_table(
        "auction_sealed_bids",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("submitted_by_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_auction_sealed_bids_amount_positive")),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auctions.id"],
            name=op.f("fk_auction_sealed_bids_auction_id_auctions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_auction_sealed_bids_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_auction_sealed_bids_submitted_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_sealed_bids")),
        sa.UniqueConstraint(
            "auction_id",
            "organization_id",
            name=op.f("uq_auction_sealed_bids_auction_id_organization_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("auction_sealed_bids")
    op.drop_column("auctions", "format")
    FORMAT.drop(op.get_bind(), checkfirst=True)

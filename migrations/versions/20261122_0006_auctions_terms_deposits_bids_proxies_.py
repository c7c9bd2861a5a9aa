"""auctions: terms, deposits, bids, proxies, live events; idempotency keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 21:13:29.792032
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


AUCTION_STATES = ("open", "closed", "settled", "failed", "cancelled")
APPEND_ONLY = """
CREATE FUNCTION auction_bids_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auction bids are append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER auction_bids_append_only BEFORE UPDATE OR DELETE ON auction_bids
    FOR EACH ROW EXECUTE FUNCTION auction_bids_append_only();
"""
NEW_AUCTION_COLUMNS_NOT_NULL = (
    "seller_organization_id",
    "starts_at",
    "ends_at",
    "scheduled_end_at",
    "increments",
    "deposit_fen",
    "snipe_window_seconds",
    "extension_seconds",
    "max_extensions",
    "extensions",
    "sequence",
    "bid_count",
    "event_sequence",
)
# The default terms of app.auctions.service.DEFAULT_TERMS and DEFAULT_INCREMENTS, for auctions
# created before they existed.
BACKFILL = """
UPDATE auctions SET
    seller_organization_id = listings.organization_id,
    starts_at = auctions.created_at + interval '3 days',
    ends_at = auctions.created_at + interval '4 days',
    scheduled_end_at = auctions.created_at + interval '4 days',
    increments = '{"steps": [[10000000, 100000], [100000000, 500000]], "above": 1000000}',
    deposit_fen = round(auctions.start_price_fen * 0.10),
    snipe_window_seconds = 300, extension_seconds = 300, max_extensions = 12,
    extensions = 0, sequence = 0, bid_count = 0, event_sequence = 0
FROM listings WHERE listings.id = auctions.listing_id
"""


def upgrade() -> None:
    # A new enum value cannot be used in the transaction that adds it.
    with op.get_context().autocommit_block():
        for state in AUCTION_STATES:
            op.execute(f"ALTER TYPE auction_state ADD VALUE IF NOT EXISTS '{state}'")
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "auction_bids",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("by_proxy", sa.Boolean(), nullable=False),
        sa.Column("placed_by_id", sa.Uuid(), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_auction_bids_amount_positive")),
        sa.ForeignKeyConstraint(
            ["auction_id"], ["auctions.id"], name=op.f("fk_auction_bids_auction_id_auctions")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_auction_bids_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_id"], ["users.id"], name=op.f("fk_auction_bids_placed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_bids")),
        sa.UniqueConstraint(
            "auction_id", "amount_fen", name=op.f("uq_auction_bids_auction_id_amount_fen")
        ),
        sa.UniqueConstraint(
            "auction_id", "sequence", name=op.f("uq_auction_bids_auction_id_sequence")
        ),
    )
    op.create_table(
        "auction_deposits",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "held", "applied", "released", "cancelled", name="deposit_state"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_reference", sa.String(length=100), nullable=False),
        sa.Column("instructions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("paddle", sa.Integer(), nullable=True),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", sa.Uuid(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(paddle IS NULL) = (confirmed_at IS NULL)",
            name=op.f("ck_auction_deposits_paddle_on_confirm"),
        ),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auctions.id"],
            name=op.f("fk_auction_deposits_auction_id_auctions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_auction_deposits_confirmed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_auction_deposits_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_auction_deposits_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_deposits")),
        sa.UniqueConstraint(
            "auction_id",
            "organization_id",
            name=op.f("uq_auction_deposits_auction_id_organization_id"),
        ),
        sa.UniqueConstraint(
            "auction_id", "paddle", name=op.f("uq_auction_deposits_auction_id_paddle")
        ),
        sa.UniqueConstraint(
            "provider_reference", name=op.f("uq_auction_deposits_provider_reference")
        ),
    )
    op.create_index(
        op.f("ix_auction_deposits_organization_id"),
        "auction_deposits",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "auction_events",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auctions.id"],
            name=op.f("fk_auction_events_auction_id_auctions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("auction_id", "sequence", name=op.f("pk_auction_events")),
    )
    op.create_table(
        "auction_proxy_bids",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("maximum_fen", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("set_by_id", sa.Uuid(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auctions.id"],
            name=op.f("fk_auction_proxy_bids_auction_id_auctions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_auction_proxy_bids_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_auction_proxy_bids_set_by_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "auction_id", "organization_id", name=op.f("pk_auction_proxy_bids")
        ),
    )
    op.add_column("auctions", sa.Column("seller_organization_id", sa.Uuid(), nullable=True))
    op.add_column("auctions", sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("auctions", sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "auctions", sa.Column("scheduled_end_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("auctions", sa.Column("reserve_fen", sa.BigInteger(), nullable=True))
    op.add_column(
        "auctions", sa.Column("increments", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("auctions", sa.Column("deposit_fen", sa.BigInteger(), nullable=True))
    op.add_column("auctions", sa.Column("snipe_window_seconds", sa.Integer(), nullable=True))
    op.add_column("auctions", sa.Column("extension_seconds", sa.Integer(), nullable=True))
    op.add_column("auctions", sa.Column("max_extensions", sa.Integer(), nullable=True))
    op.add_column("auctions", sa.Column("extensions", sa.Integer(), nullable=True))
    op.add_column("auctions", sa.Column("sequence", sa.BigInteger(), nullable=True))
    op.add_column("auctions", sa.Column("bid_count", sa.Integer(), nullable=True))
    op.add_column("auctions", sa.Column("event_sequence", sa.BigInteger(), nullable=True))
    op.add_column("auctions", sa.Column("cancel_reason", sa.String(length=500), nullable=True))
    op.add_column("auctions", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("auctions", sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("auctions", sa.Column("winner_organization_id", sa.Uuid(), nullable=True))
    op.add_column("auctions", sa.Column("hammer_price_fen", sa.BigInteger(), nullable=True))
    op.add_column("auctions", sa.Column("deal_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_auctions_live_end",
        "auctions",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("state IN ('scheduled', 'open', 'closed')"),
    )
    op.create_index(
        op.f("ix_auctions_seller_organization_id"),
        "auctions",
        ["seller_organization_id"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("fk_auctions_winner_organization_id_organizations"),
        "auctions",
        "organizations",
        ["winner_organization_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_auctions_deal_id_deals"), "auctions", "deals", ["deal_id"], ["id"]
    )
    op.create_foreign_key(
        op.f("fk_auctions_seller_organization_id_organizations"),
        "auctions",
        "organizations",
        ["seller_organization_id"],
        ["id"],
    )
    op.add_column(
        "deals",
        sa.Column("deposit_applied_fen", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(BACKFILL)
    for column in NEW_AUCTION_COLUMNS_NOT_NULL:
        op.alter_column("auctions", column, nullable=False)
    op.create_check_constraint("start_price_positive", "auctions", "start_price_fen > 0")
    op.create_check_constraint(
        "reserve_positive", "auctions", "reserve_fen IS NULL OR reserve_fen > 0"
    )
    op.create_check_constraint("deposit_not_negative", "auctions", "deposit_fen >= 0")
    op.create_check_constraint("starts_before_end", "auctions", "starts_at < scheduled_end_at")
    op.create_check_constraint("extensions_only_later", "auctions", "ends_at >= scheduled_end_at")
    op.create_check_constraint(
        "extension_limit", "auctions", "extensions BETWEEN 0 AND max_extensions"
    )
    op.create_check_constraint(
        "anti_sniping_not_negative",
        "auctions",
        "snipe_window_seconds >= 0 AND extension_seconds >= 0 AND max_extensions >= 0",
    )
    op.create_check_constraint(
        "winner_iff_settled",
        "auctions",
        "(state = 'settled') = (winner_organization_id IS NOT NULL)",
    )
    op.execute(APPEND_ONLY)
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.execute("DROP TRIGGER auction_bids_append_only ON auction_bids")
    op.execute("DROP FUNCTION auction_bids_append_only()")
    for name in (
        "start_price_positive",
        "reserve_positive",
        "deposit_not_negative",
        "starts_before_end",
        "extensions_only_later",
        "extension_limit",
        "anti_sniping_not_negative",
        "winner_iff_settled",
    ):
        op.drop_constraint(op.f(f"ck_auctions_{name}"), "auctions", type_="check")
    op.drop_column("deals", "deposit_applied_fen")
    op.drop_constraint(
        op.f("fk_auctions_seller_organization_id_organizations"), "auctions", type_="foreignkey"
    )
    op.drop_constraint(op.f("fk_auctions_deal_id_deals"), "auctions", type_="foreignkey")
    op.drop_constraint(
        op.f("fk_auctions_winner_organization_id_organizations"), "auctions", type_="foreignkey"
    )
    op.drop_index(op.f("ix_auctions_seller_organization_id"), table_name="auctions")
    op.drop_index(
        "ix_auctions_live_end",
        table_name="auctions",
        postgresql_where=sa.text("state IN ('scheduled', 'open', 'closed')"),
    )
    op.drop_column("auctions", "deal_id")
    op.drop_column("auctions", "hammer_price_fen")
    op.drop_column("auctions", "winner_organization_id")
    op.drop_column("auctions", "settled_at")
    op.drop_column("auctions", "closed_at")
    op.drop_column("auctions", "cancel_reason")
    op.drop_column("auctions", "event_sequence")
    op.drop_column("auctions", "sequence")
    op.drop_column("auctions", "bid_count")
    op.drop_column("auctions", "extensions")
    op.drop_column("auctions", "max_extensions")
    op.drop_column("auctions", "extension_seconds")
    op.drop_column("auctions", "snipe_window_seconds")
    op.drop_column("auctions", "deposit_fen")
    op.drop_column("auctions", "increments")
    op.drop_column("auctions", "reserve_fen")
    op.drop_column("auctions", "scheduled_end_at")
    op.drop_column("auctions", "ends_at")
    op.drop_column("auctions", "starts_at")
    op.drop_column("auctions", "seller_organization_id")
    op.drop_table("auction_proxy_bids")
    op.drop_table("auction_events")
    op.drop_index(op.f("ix_auction_deposits_organization_id"), table_name="auction_deposits")
    op.drop_table("auction_deposits")
    op.drop_table("auction_bids")
    op.drop_table("idempotency_keys")
    op.execute("DROP TYPE deposit_state")
    # PostgreSQL cannot drop enum values: rebuild auction_state with 'scheduled' only.
    op.execute("DELETE FROM auctions WHERE state <> 'scheduled'")
    op.execute("ALTER TYPE auction_state RENAME TO auction_state_0006")
    op.execute("CREATE TYPE auction_state AS ENUM ('scheduled')")
    op.execute(
        "ALTER TABLE auctions ALTER COLUMN state TYPE auction_state USING state::text::auction_state"
    )
    op.execute("DROP TYPE auction_state_0006")
    # ### end Alembic commands ###

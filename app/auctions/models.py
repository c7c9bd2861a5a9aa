"""Tables of the auctions package.

Bids are append-only (a trigger refuses UPDATE and DELETE): the price and the leader are
derived from them, never stored beside them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum
from app.core.errors import register_unique_field


class AuctionState(StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"  # bidding over, settlement pending
    settled = "settled"  # sold: a deal was opened at the hammer price
    failed = "failed"  # no bid at or above the reserve (流拍)
    cancelled = "cancelled"  # by the platform, with a reason


LIVE = frozenset({AuctionState.scheduled, AuctionState.open})
FINISHED = frozenset({AuctionState.settled, AuctionState.failed, AuctionState.cancelled})


class Eligibility(StrEnum):
    verified = "verified"  # any verified organization may bid
    intent_holders = "intent_holders"  # only those who registered intent on the listing


class AuctionFormat(StrEnum):
    """How bidders bid (the exchanges' 竞价方式)."""

    english = "english"  # 多次连续报价: open ascending bids, the price shown
    sealed = "sealed"  # 一次性报价: one sealed amount each, opened at the end


class Auction(IdMixin, Base):
    """A competitive sale (竞价拍卖) of a listing: English ascending, with proxy bids."""

    __tablename__ = "auctions"

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"), unique=True)
    seller_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    state: Mapped[AuctionState] = mapped_column(
        pg_enum(AuctionState, "auction_state"), default=AuctionState.scheduled
    )
    eligibility: Mapped[Eligibility] = mapped_column(pg_enum(Eligibility, "auction_eligibility"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    """The current end, after any anti-sniping extensions."""
    scheduled_end_at: Mapped[datetime]
    """The end as scheduled, before extensions."""
    start_price_fen: Mapped[int] = mapped_column(BigInteger)
    reserve_fen: Mapped[int | None] = mapped_column(BigInteger)
    """Hidden reserve (保留价): shown to the seller and staff only."""
    increments: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Increment table (加价幅度) in fen: {"steps": [[below, increment], ...], "above": n}."""
    deposit_fen: Mapped[int] = mapped_column(BigInteger)
    """Deposit (保证金) a bidder must hold."""
    snipe_window_seconds: Mapped[int]
    extension_seconds: Mapped[int]
    max_extensions: Mapped[int]
    format: Mapped[AuctionFormat] = mapped_column(
        pg_enum(AuctionFormat, "auction_format"),
        default=AuctionFormat.english,
        server_default=AuctionFormat.english.value,
    )
    countdown_seconds: Mapped[int | None]
    """Two-phase timing (自由报价期 / 限时报价期): set, the free bidding period ends
    `countdown_seconds` before `scheduled_end_at`, and from there each bid restarts a countdown
    of this length — the anti-sniping terms with window and extension both this long and no
    practical limit on extensions."""
    extensions: Mapped[int] = mapped_column(default=0)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    """The engine's tick: the last sequence given to a bid or proxy."""
    bid_count: Mapped[int] = mapped_column(default=0)
    """How many bids are stored (kept with them in the same transaction)."""
    event_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    """The last live event's number (its SSE id)."""
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    winner_organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    hammer_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id"))

    __table_args__ = (
        CheckConstraint("start_price_fen > 0", name="start_price_positive"),
        CheckConstraint("reserve_fen IS NULL OR reserve_fen > 0", name="reserve_positive"),
        CheckConstraint("deposit_fen >= 0", name="deposit_not_negative"),
        CheckConstraint("starts_at < scheduled_end_at", name="starts_before_end"),
        CheckConstraint("ends_at >= scheduled_end_at", name="extensions_only_later"),
        CheckConstraint("extensions BETWEEN 0 AND max_extensions", name="extension_limit"),
        CheckConstraint(
            "snipe_window_seconds >= 0 AND extension_seconds >= 0 AND max_extensions >= 0",
            name="anti_sniping_not_negative",
        ),
        CheckConstraint(
            "(state = 'settled') = (winner_organization_id IS NOT NULL)", name="winner_iff_settled"
        ),
        Index(
            "ix_auctions_live_end",
            "ends_at",
            postgresql_where=text("state IN ('scheduled', 'open', 'closed')"),
        ),
    )


class EligibleBidder(Base):
    """An organization admitted to an intent-holders-only auction."""

    __tablename__ = "auction_eligible_bidders"

    auction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auctions.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), primary_key=True
    )


class DepositState(StrEnum):
    pending = "pending"  # instructions given, money not yet confirmed
    held = "held"  # confirmed: the organization may bid
    applied = "applied"  # the winner's, applied to the price
    released = "released"  # returned after the auction
    cancelled = "cancelled"  # never confirmed before the auction ended


class Deposit(IdMixin, Base):
    """A bidder's deposit (保证金), held through a payments provider."""

    __tablename__ = "auction_deposits"

    auction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auctions.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[DepositState] = mapped_column(
        pg_enum(DepositState, "deposit_state"), default=DepositState.pending
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str] = mapped_column(String(100), unique=True)
    instructions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    paddle: Mapped[int | None]
    """The bidder's number in this auction (竞买号), given when the deposit is confirmed; bids
    are shown by it, so bidders stay anonymous to each other."""
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("auction_id", "organization_id"),
        UniqueConstraint("auction_id", "paddle"),
        CheckConstraint("(paddle IS NULL) = (confirmed_at IS NULL)", name="paddle_on_confirm"),
    )


class Bid(IdMixin, Base):
    """An accepted bid, kept forever: own bids and those the engine made for a proxy."""

    __tablename__ = "auction_bids"

    auction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auctions.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    sequence: Mapped[int] = mapped_column(BigInteger)
    by_proxy: Mapped[bool]
    placed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime]

    __table_args__ = (
        # Strictly increasing: no two bids of one auction share a sequence or an amount.
        UniqueConstraint("auction_id", "sequence"),
        UniqueConstraint("auction_id", "amount_fen"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class ProxyBid(Base):
    """A bidder's maximum (代理出价): the engine bids up to it on their behalf."""

    __tablename__ = "auction_proxy_bids"

    auction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auctions.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), primary_key=True
    )
    maximum_fen: Mapped[int] = mapped_column(BigInteger)
    sequence: Mapped[int] = mapped_column(BigInteger)
    """When it was set, on the engine's tick: equal maximums go to the earlier."""
    set_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime]


class SealedBid(IdMixin, Base):
    """A sealed single-round bid (一次性报价): one amount per deposit holder, submitted before
    the end, seen by nobody but its bidder until the auction closes."""

    __tablename__ = "auction_sealed_bids"

    auction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auctions.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("auction_id", "organization_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )


class AuctionEvent(Base):
    """One live event of an auction, numbered per auction: the SSE stream and its replay."""

    __tablename__ = "auction_events"

    auction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auctions.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime]


register_unique_field("uq_auction_deposits_auction_id_organization_id", "body.organization_id")
register_unique_field("uq_auction_sealed_bids_auction_id_organization_id", "body.amount")

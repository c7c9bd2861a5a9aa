"""Tables of the listings package."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum
from app.core.errors import register_unique_field


class ListingMode(StrEnum):
    fixed_price = "fixed_price"  # 挂牌价
    negotiable = "negotiable"  # 面议
    auction = "auction"  # 竞价/拍卖


class TransferType(StrEnum):
    assignment = "assignment"  # 转让
    exclusive_licence = "exclusive_licence"  # 独占许可
    sole_licence = "sole_licence"  # 排他许可
    non_exclusive_licence = "non_exclusive_licence"  # 普通许可
    equity = "equity"  # 作价入股
    co_development = "co_development"  # 合作开发


LICENCES = frozenset(
    {TransferType.exclusive_licence, TransferType.sole_licence, TransferType.non_exclusive_licence}
)


class ListingState(StrEnum):
    draft = "draft"
    pending_review = "pending_review"
    published = "published"
    rejected = "rejected"
    withdrawn = "withdrawn"
    closed = "closed"


class ListingOutcome(StrEnum):
    """How a publication window ended."""

    to_contract = "to_contract"  # one buyer (or, negotiable, buyers to negotiate with)
    to_auction = "to_auction"  # two or more intents on a fixed price, or an auction listing
    expired = "expired"  # nobody came


class Listing(IdMixin, TimestampMixin, Base):
    """A result offered on the market (挂牌)."""

    __tablename__ = "listings"

    result_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("results.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[ListingMode] = mapped_column(pg_enum(ListingMode, "listing_mode"))
    transfer_type: Mapped[TransferType] = mapped_column(pg_enum(TransferType, "transfer_type"))
    licence_years: Mapped[int | None]
    price_fen: Mapped[int | None] = mapped_column(BigInteger)
    """Asking price (fixed price) or starting price (auction); none when negotiable (面议)."""
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    window_days: Mapped[int]
    """Length of the publication window (公示期) in days."""
    state: Mapped[ListingState] = mapped_column(
        pg_enum(ListingState, "listing_state"), default=ListingState.draft
    )
    outcome: Mapped[ListingOutcome | None] = mapped_column(
        pg_enum(ListingOutcome, "listing_outcome")
    )
    published_at: Mapped[datetime | None]
    window_ends_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("(mode = 'negotiable') = (price_fen IS NULL)", name="price_by_mode"),
        CheckConstraint("price_fen IS NULL OR price_fen > 0", name="price_positive"),
        CheckConstraint(
            "(transfer_type IN ('exclusive_licence', 'sole_licence', 'non_exclusive_licence'))"
            " = (licence_years IS NOT NULL)",
            name="licence_term",
        ),
        CheckConstraint("window_days BETWEEN 1 AND 365", name="window_days_range"),
        # One live listing per result: a result is offered once at a time.
        Index(
            "uq_listings_live_result",
            "result_id",
            unique=True,
            postgresql_where=text("state IN ('draft', 'pending_review', 'rejected', 'published')"),
        ),
        Index(
            "ix_listings_window_due",
            "window_ends_at",
            postgresql_where=text("state = 'published'"),
        ),
    )


class ListingTransition(IdMixin, Base):
    """One step of a listing's life: who moved it, when, why."""

    __tablename__ = "listing_transitions"

    listing_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[ListingState | None] = mapped_column(pg_enum(ListingState, "listing_state"))
    to_state: Mapped[ListingState] = mapped_column(pg_enum(ListingState, "listing_state"))
    outcome: Mapped[ListingOutcome | None] = mapped_column(
        pg_enum(ListingOutcome, "listing_outcome")
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    """None when the system moved it (window close)."""
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime]
    sequence: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    """Order of recording, which `at` alone cannot give when two steps share an instant."""


class Intent(IdMixin, Base):
    """An intent to acquire (意向受让) registered during the publication window."""

    __tablename__ = "intents"

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("listing_id", "organization_id"),)


register_unique_field("uq_listings_live_result", "body.result_id")
register_unique_field("uq_intents_listing_id_organization_id", "body.organization_id")

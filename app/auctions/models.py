"""Tables of the auctions package."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum


class AuctionState(StrEnum):
    scheduled = "scheduled"


class Eligibility(StrEnum):
    verified = "verified"  # any verified organization may bid
    intent_holders = "intent_holders"  # only those who registered intent on the listing


class Auction(IdMixin, Base):
    """A competitive sale of a listing."""

    __tablename__ = "auctions"

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"), unique=True)
    state: Mapped[AuctionState] = mapped_column(
        pg_enum(AuctionState, "auction_state"), default=AuctionState.scheduled
    )
    start_price_fen: Mapped[int] = mapped_column(BigInteger)
    eligibility: Mapped[Eligibility] = mapped_column(pg_enum(Eligibility, "auction_eligibility"))
    created_at: Mapped[datetime]


class EligibleBidder(Base):
    """An organization admitted to an intent-holders-only auction."""

    __tablename__ = "auction_eligible_bidders"

    auction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auctions.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), primary_key=True
    )

"""Tables of the deals package."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum


class DealSource(StrEnum):
    fixed_price_listing = "fixed_price_listing"  # the one intent when the window closed
    auction = "auction"
    negotiation = "negotiation"
    off_platform = "off_platform"


class DealState(StrEnum):
    open = "open"


class Deal(IdMixin, Base):
    """An agreed transaction between a seller and a buyer, on its way to a contract."""

    __tablename__ = "deals"

    listing_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("listings.id"), unique=True)
    seller_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    buyer_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    price_fen: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    deposit_applied_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The winner's auction deposit (保证金), applied towards the price."""
    source: Mapped[DealSource] = mapped_column(pg_enum(DealSource, "deal_source"))
    state: Mapped[DealState] = mapped_column(
        pg_enum(DealState, "deal_state"), default=DealState.open
    )
    opened_at: Mapped[datetime]

"""Rules of the deals package (opening deals; contracts come with the deals issue)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import Money
from app.core.outbox import record_event
from app.deals.models import Deal, DealSource


async def open_from_listing(
    session: AsyncSession,
    *,
    listing_id: uuid.UUID,
    seller_organization_id: uuid.UUID,
    buyer_organization_id: uuid.UUID,
    price: Money,
    now: datetime,
) -> Deal:
    """Open the deal of a fixed-price listing whose window closed with exactly one intent:
    that buyer goes to contract at the listed price (挂牌价)."""
    deal = Deal(
        listing_id=listing_id,
        seller_organization_id=seller_organization_id,
        buyer_organization_id=buyer_organization_id,
        price_fen=price.fen,
        currency=price.currency,
        source=DealSource.fixed_price_listing,
        opened_at=now,
    )
    session.add(deal)
    await session.flush()
    await record_event(
        session,
        "deal.opened",
        {
            "deal_id": str(deal.id),
            "listing_id": str(listing_id),
            "seller_organization_id": str(seller_organization_id),
            "buyer_organization_id": str(buyer_organization_id),
        },
    )
    return deal

"""Rules of the deals package (opening deals; contracts come with the deals issue)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import Money
from app.core.outbox import record_event
from app.deals.models import Deal, DealSource


async def open_deal(
    session: AsyncSession,
    *,
    source: DealSource,
    listing_id: uuid.UUID | None,
    seller_organization_id: uuid.UUID,
    buyer_organization_id: uuid.UUID,
    price: Money,
    deposit_applied: Money | None = None,
    now: datetime,
) -> Deal:
    """Open a deal at an agreed price: a fixed-price listing whose window closed with exactly
    one intent (that buyer, at the listed price 挂牌价), or a settled auction (the winner, at the
    hammer price 落槌价, with their deposit applied towards it)."""
    deal = Deal(
        listing_id=listing_id,
        seller_organization_id=seller_organization_id,
        buyer_organization_id=buyer_organization_id,
        price_fen=price.fen,
        currency=price.currency,
        deposit_applied_fen=deposit_applied.fen if deposit_applied else 0,
        source=source,
        opened_at=now,
    )
    session.add(deal)
    await session.flush()
    await record_event(
        session,
        "deal.opened",
        {
            "deal_id": str(deal.id),
            "listing_id": str(listing_id) if listing_id else None,
            "source": source.value,
            "seller_organization_id": str(seller_organization_id),
            "buyer_organization_id": str(buyer_organization_id),
            "price": price.to_api(),
        },
    )
    return deal

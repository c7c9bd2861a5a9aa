"""Rules of the auctions package (creation from listings; bidding comes with the auctions issue)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions.models import Auction, Eligibility, EligibleBidder
from app.core.money import Money
from app.core.outbox import record_event


async def create_from_listing(
    session: AsyncSession,
    *,
    listing_id: uuid.UUID,
    start_price: Money,
    intent_holders: Sequence[uuid.UUID] | None,
    now: datetime,
) -> Auction:
    """Create the auction a listing turns into when its window closes.

    With `intent_holders`, only they may bid (a fixed-price listing that drew two or more
    intents, 挂牌转让 practice); without, any verified organization may.
    """
    auction = Auction(
        listing_id=listing_id,
        start_price_fen=start_price.fen,
        eligibility=Eligibility.intent_holders
        if intent_holders is not None
        else Eligibility.verified,
        created_at=now,
    )
    session.add(auction)
    await session.flush()
    for organization_id in intent_holders or ():
        session.add(EligibleBidder(auction_id=auction.id, organization_id=organization_id))
    await record_event(
        session,
        "auction.created",
        {"auction_id": str(auction.id), "listing_id": str(listing_id)},
    )
    return auction


async def states_by_listing(
    session: AsyncSession, listing_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """listing id → its auction's state, for the listings that have an auction."""
    rows = await session.execute(
        select(Auction.listing_id, Auction.state).where(Auction.listing_id.in_(list(listing_ids)))
    )
    return {listing_id: state.value for listing_id, state in rows}

"""What the worker does as an auction's times come: open it, close it (after any anti-sniping
extension), settle it (a deal for the winner, deposits applied and released) and say when to
look again. Each step locks the auction and re-checks its state, so it happens once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions import queries, timing
from app.auctions.deposits import release_deposits
from app.auctions.events import emit, notify, open_if_started
from app.auctions.models import (
    FINISHED,
    LIVE,
    Auction,
    AuctionFormat,
    AuctionState,
    Deposit,
    DepositState,
)
from app.auctions.queries import auction_by_id
from app.auctions.sealed import sealed_sale
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import service as deals
from app.deals.models import DealSource
from app.payments.provider import PaymentProvider


async def open_if_due(session: AsyncSession, auction_id: uuid.UUID, *, now: datetime) -> bool:
    """Open a scheduled auction whose start has come (idempotent)."""
    auction = await auction_by_id(session, auction_id, lock=True)
    if now >= auction.ends_at or not await open_if_started(session, auction, now):
        return False
    await notify(session, auction)
    return True


async def close_if_due(session: AsyncSession, auction_id: uuid.UUID, *, now: datetime) -> bool:
    """End the bidding of an auction whose end (after extensions) has passed (idempotent:
    False when not yet due or already closed)."""
    auction = await auction_by_id(session, auction_id, lock=True)
    if auction.state not in LIVE or now < auction.ends_at:
        return False
    sale = await _sale(session, auction)
    auction.state = AuctionState.closed
    auction.closed_at = now
    if auction.format == AuctionFormat.sealed:
        # The sealed amounts are opened (开标): the winning one is the price.
        price = sale.price if sale is not None else None
    else:
        price = (await queries.standing(session, auction.id, None)).book.price
    data = {
        "state": "closed",
        "sold": sale is not None,
        "price": Money(price).to_api() if price is not None else None,
    }
    await emit(session, auction, "closed", data, now)
    await notify(session, auction)
    await record_event(
        session,
        "auction.closed",
        {"auction_id": str(auction.id), "listing_id": str(auction.listing_id), **data},
    )
    return True


async def settle(
    session: AsyncSession, provider: PaymentProvider, auction_id: uuid.UUID, *, now: datetime
) -> AuctionState | None:
    """Settle a closed auction exactly once: the highest bid at or above the reserve wins, the
    winner's deposit is applied to the price and a deal opened at the hammer price (落槌价);
    every other deposit is released. Without such a bid the auction fails (流拍). Returns the
    new state, or None when there was nothing to settle."""
    auction = await auction_by_id(session, auction_id, lock=True)
    if auction.state != AuctionState.closed:
        return None
    sale = await _sale(session, auction)
    auction.settled_at = now
    payload: dict[str, Any] = {"auction_id": str(auction.id), "listing_id": str(auction.listing_id)}
    if sale is None:
        await release_deposits(session, provider, auction, winner=None, now=now)
        auction.state = AuctionState.failed
        await emit(session, auction, "failed", {"state": "failed"}, now)
        await record_event(session, "auction.failed", payload)
    else:
        winner = uuid.UUID(str(sale.winner))
        # A winner bid, so they hold a deposit (bidding needs one).
        held = await session.scalar(
            select(Deposit.amount_fen).where(
                Deposit.auction_id == auction.id,
                Deposit.organization_id == winner,
                Deposit.state == DepositState.held,
            )
        )
        deal = await deals.open_deal(
            session,
            source=DealSource.auction,
            listing_id=auction.listing_id,
            seller_organization_id=auction.seller_organization_id,
            buyer_organization_id=winner,
            price=Money(sale.price),
            deposit_applied=Money(held or 0),
            now=now,
        )
        await release_deposits(session, provider, auction, winner=(winner, deal.id), now=now)
        auction.state = AuctionState.settled
        auction.winner_organization_id = winner
        auction.hammer_price_fen = sale.price
        auction.deal_id = deal.id
        await emit(
            session,
            auction,
            "settled",
            {"state": "settled", "price": Money(sale.price).to_api()},
            now,
        )
        await record_event(
            session,
            "auction.settled",
            {**payload, "deal_id": str(deal.id), "price": Money(sale.price).to_api()},
        )
    await notify(session, auction)
    return auction.state


async def _sale(session: AsyncSession, auction: Auction) -> timing.Hammer | None:
    """Who won at what price: the highest open bid, or the highest sealed amount."""
    if auction.format == AuctionFormat.sealed:
        return await sealed_sale(session, auction.id, auction.reserve_fen)
    return timing.hammer(
        (await queries.standing(session, auction.id, None)).book, auction.reserve_fen
    )


async def next_step_at(session: AsyncSession, auction_id: uuid.UUID) -> datetime | None:
    """When the worker should look at the auction next: its start, its end, or None when it
    needs nothing more from the clock."""
    auction = await session.get(Auction, auction_id)
    if auction is None or auction.state in FINISHED:
        return None
    if auction.state == AuctionState.scheduled:
        return auction.starts_at
    return auction.ends_at


async def next_step_after(session: AsyncSession, after: datetime) -> datetime | None:
    """The first start of a scheduled auction, or end of an open one, later than `after`."""
    step = case((Auction.state == AuctionState.scheduled, Auction.starts_at), else_=Auction.ends_at)
    first: datetime | None = await session.scalar(
        select(func.min(step)).where(Auction.state.in_(list(LIVE)), step > after)
    )
    return first


async def due_auctions(
    session: AsyncSession, now: datetime, *, limit: int = 500
) -> list[uuid.UUID]:
    """Auctions needing the worker now: to open, to close, or closed and not yet settled."""
    rows = await session.scalars(
        select(Auction.id)
        .where(
            or_(
                (Auction.state == AuctionState.scheduled) & (Auction.starts_at <= now),
                Auction.state.in_(list(LIVE)) & (Auction.ends_at <= now),
                Auction.state == AuctionState.closed,
            )
        )
        .order_by(Auction.ends_at)
        .limit(limit)
    )
    return list(rows.all())

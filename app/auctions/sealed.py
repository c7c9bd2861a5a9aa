"""Sealed single-round bids (一次性报价), the exchanges' second auction format beside open
ascending bidding (多次连续报价): each deposit holder submits one amount before the end; nobody
sees another's; at the end the highest at or above the reserve wins, an equal amount losing to
the earlier, and settlement is the same as for every auction (`closing.settle`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions import errors, service
from app.auctions.events import emit, notify, open_if_started
from app.auctions.models import AuctionFormat, Deposit, SealedBid
from app.auctions.queries import auction_by_id, increments_of
from app.auctions.timing import Hammer
from app.core.auth import Principal
from app.core.errors import AlreadyExists
from app.core.money import Money
from app.core.outbox import record_event


async def submit_sealed_bid(
    session: AsyncSession,
    principal: Principal,
    auction_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    amount: Money,
    now: datetime,
) -> SealedBid:
    """Submit the caller's organization's one sealed amount: at least the start price and on
    the increment grid from it. The auction's row lock orders it against the close.

    Raises NotFound; ValidationFailed(organization_id); NotSealed for an open-bidding auction;
    AuctionNotOpen, AuctionClosed, DepositRequired; BidTooLow below the start price; BidOffGrid
    between two amounts the grid allows; AlreadyExists(amount) for a second one."""
    bidder = principal.acting_for(organization_id)
    auction = await auction_by_id(session, auction_id, lock=True)
    if auction.format != AuctionFormat.sealed:
        raise errors.NotSealed()
    deposit = await session.scalar(
        select(Deposit).where(Deposit.auction_id == auction.id, Deposit.organization_id == bidder)
    )
    service.admitted(auction, deposit, now)
    if amount.fen < auction.start_price_fen:
        raise errors.BidTooLow(Money(auction.start_price_fen))
    nearest = increments_of(auction).off_grid(amount.fen, start=auction.start_price_fen, price=None)
    if nearest is not None:
        raise errors.BidOffGrid(Money(nearest[0]), Money(nearest[1]))
    submitted = await session.scalar(
        select(SealedBid.id).where(
            SealedBid.auction_id == auction.id, SealedBid.organization_id == bidder
        )
    )
    if submitted is not None:
        raise AlreadyExists("body.amount")
    await open_if_started(session, auction, now)
    sealed = SealedBid(
        auction_id=auction.id,
        organization_id=bidder,
        amount_fen=amount.fen,
        submitted_by_id=principal.user_id,
        submitted_at=now,
    )
    session.add(sealed)
    auction.bid_count += 1
    # Everyone may know that one more bid is in; nobody its amount.
    await emit(session, auction, "sealed_bid", {"bids": auction.bid_count}, now)
    await notify(session, auction)
    await record_event(
        session,
        "sealed_bid.submitted",
        {"auction_id": str(auction.id), "organization_id": str(bidder)},
    )
    await session.flush()
    return sealed


async def sealed_sale(
    session: AsyncSession, auction_id: uuid.UUID, reserve_fen: int | None
) -> Hammer | None:
    """The sale a sealed auction ends in: the highest amount, the earlier of equal ones, if it
    reaches the reserve (保留价); None otherwise (流拍)."""
    best = (
        await session.execute(
            select(SealedBid.organization_id, SealedBid.amount_fen)
            .where(SealedBid.auction_id == auction_id)
            .order_by(SealedBid.amount_fen.desc(), SealedBid.submitted_at, SealedBid.id)
            .limit(1)
        )
    ).first()
    if best is None or (reserve_fen is not None and best.amount_fen < reserve_fen):
        return None
    return Hammer(best.organization_id, best.amount_fen)

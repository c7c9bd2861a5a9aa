"""Rules of the auctions package: terms, creation from a listing, views, cancellation (bids:
`bidding`, deposits: `deposits`, opening and closing: `closing`, live events: `events`).

Every change to an auction's state takes the auction row `FOR UPDATE` first, and every bid
lands only on the version of the row it was computed from (`bidding`), so concurrent bids
serialize and a bid and the close cannot cross: a bid either lands before the end and counts,
or is refused. The engine (`engine.Book`) is read as its live part (`queries.standing`) — the
last bid, the leader's best own bid and the proxies still able to bid — so a bid costs the
same however long the history. Live events are rows numbered per auction (the SSE ids) and a
`NOTIFY` at commit wakes every API process's streams.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions import engine, queries
from app.auctions.deposits import release_deposits
from app.auctions.errors import AuctionClosed, AuctionNotOpen, DepositRequired
from app.auctions.events import emit, notify
from app.auctions.increments import DEFAULT_INCREMENTS, IncrementGrid, IncrementTable
from app.auctions.models import (
    FINISHED,
    LIVE,
    Auction,
    AuctionFormat,
    AuctionState,
    Bid,
    Deposit,
    DepositState,
    Eligibility,
    EligibleBidder,
    ProxyBid,
    SealedBid,
)
from app.auctions.queries import auction_by_id
from app.core.auth import PlatformRole, Principal
from app.core.errors import (
    InvalidState,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.payments.provider import PaymentProvider

# --- terms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultTerms:
    """Terms an auction gets when its listing's window closes; the seller or staff adjust
    them while it is scheduled."""

    start_after: timedelta = timedelta(days=3)  # time for bidders to pay their deposits
    duration: timedelta = timedelta(days=1)
    deposit_rate: Decimal = Decimal("0.10")
    snipe_window: timedelta = timedelta(minutes=5)
    extension: timedelta = timedelta(minutes=5)
    max_extensions: int = 12


DEFAULT_TERMS = DefaultTerms()


@dataclass(frozen=True)
class TermsChange:
    """What the seller or staff may change while an auction is scheduled (None: unchanged)."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    start_price: Money | None = None
    reserve: Money | None = None
    clear_reserve: bool = False
    increments: IncrementTable | None = None
    increment_grid: IncrementGrid | None = None
    deposit: Money | None = None
    snipe_window: timedelta | None = None
    extension: timedelta | None = None
    max_extensions: int | None = None
    free_period_ends_at: datetime | None = None
    countdown: timedelta | None = None
    format: AuctionFormat | None = None


COUNTDOWN_RESTARTS = 10_000
"""The restarts a two-phase auction's countdown allows: none that a real auction reaches."""


def _increments_data(table: IncrementTable) -> dict[str, Any]:
    return {
        "steps": [[bound, step] for bound, step in table.steps],
        "above": table.above,
        "grid": table.grid.value,
    }


# --- views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuctionView:
    """An auction with what is derived from its bids, and what the caller may see of it."""

    auction: Auction
    price: Money | None
    leader_paddle: int | None
    bid_count: int
    minimum_bid: Money
    reserve_met: bool
    privileged: bool
    """The seller's managers and staff: they see the reserve, the winner and the deal."""
    deposits: list[Deposit] = field(default_factory=list)
    """The caller's organizations' deposits."""
    leading: bool = False


def view_of_book(
    principal: Principal,
    auction: Auction,
    book: engine.Book,
    deposit: Deposit,
    leader_paddle: int | None,
) -> AuctionView:
    """The view after a bid, from the book in hand (no second read of the bids)."""
    price = book.price
    return AuctionView(
        auction=auction,
        price=Money(price) if price is not None else None,
        leader_paddle=leader_paddle,
        bid_count=auction.bid_count,
        minimum_bid=Money(book.minimum_next()),
        reserve_met=price is not None
        and (auction.reserve_fen is None or price >= auction.reserve_fen),
        privileged=_is_privileged(principal, auction),
        deposits=[deposit],
        leading=book.leader in principal.memberships,
    )


def _is_privileged(principal: Principal, auction: Auction) -> bool:
    return principal.is_member_of(auction.seller_organization_id) or bool(principal.platform_roles)


async def _views(
    session: AsyncSession, principal: Principal, auctions: Sequence[Auction]
) -> list[AuctionView]:
    if not auctions:
        return []
    ids = [auction.id for auction in auctions]
    last_bids = {
        row.auction_id: row
        for row in await session.execute(
            select(
                Bid.auction_id,
                Bid.amount_fen,
                Bid.organization_id,
            )
            .where(Bid.auction_id.in_(ids))
            .ext(distinct_on(Bid.auction_id))
            .order_by(Bid.auction_id, Bid.sequence.desc())
        )
    }
    deposits = (
        await session.scalars(
            select(Deposit).where(
                Deposit.auction_id.in_(ids),
                or_(
                    Deposit.organization_id.in_(list(principal.memberships)),
                    Deposit.organization_id.in_(
                        [row.organization_id for row in last_bids.values()]
                    ),
                ),
            )
        )
    ).all()
    paddles = {(d.auction_id, d.organization_id): d.paddle for d in deposits}
    views = []
    for auction in auctions:
        last = last_bids.get(auction.id)
        price = Money(last.amount_fen) if last else None
        minimum = queries.increments_of(auction).least_bid(
            start=auction.start_price_fen, price=price.fen if price else None
        )
        views.append(
            AuctionView(
                auction=auction,
                price=price,
                leader_paddle=paddles.get((auction.id, last.organization_id)) if last else None,
                bid_count=auction.bid_count,
                minimum_bid=Money(minimum),
                reserve_met=price is not None
                and (auction.reserve_fen is None or price.fen >= auction.reserve_fen),
                privileged=_is_privileged(principal, auction),
                deposits=[
                    d
                    for d in deposits
                    if d.auction_id == auction.id and principal.is_member_of(d.organization_id)
                ],
                leading=last is not None and principal.is_member_of(last.organization_id),
            )
        )
    return views


async def get_auction_for(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID
) -> AuctionView:
    """An auction: public to every caller (its listing was published); the reserve, the
    winner and the deal only to the seller and staff. Raises NotFound."""
    return (await _views(session, principal, [await auction_by_id(session, auction_id)]))[0]


async def list_auctions(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    state: AuctionState | None = None,
    listing_id: uuid.UUID | None = None,
) -> tuple[list[AuctionView], str | None]:
    """Auctions, newest first."""
    query = select(Auction)
    if state is not None:
        query = query.where(Auction.state == state)
    if listing_id is not None:
        query = query.where(Auction.listing_id == listing_id)
    rows, cursor = await paginate(session, query, params, key=Auction.created_at, row_id=Auction.id)
    return await _views(session, principal, rows), cursor


# --- creation and terms --------------------------------------------------------------------


async def create_from_listing(
    session: AsyncSession,
    *,
    listing_id: uuid.UUID,
    seller_organization_id: uuid.UUID,
    start_price: Money,
    intent_holders: Sequence[uuid.UUID] | None,
    now: datetime,
    terms: DefaultTerms = DEFAULT_TERMS,
) -> Auction:
    """Create the auction a listing turns into when its window closes, on default terms.

    With `intent_holders`, only they may bid (a fixed-price listing that drew two or more
    intents, 挂牌转让 practice); without, any verified organization may.
    """
    starts_at = now + terms.start_after
    ends_at = starts_at + terms.duration
    auction = Auction(
        listing_id=listing_id,
        seller_organization_id=seller_organization_id,
        state=AuctionState.scheduled,
        eligibility=Eligibility.intent_holders
        if intent_holders is not None
        else Eligibility.verified,
        starts_at=starts_at,
        ends_at=ends_at,
        scheduled_end_at=ends_at,
        start_price_fen=start_price.fen,
        increments=_increments_data(DEFAULT_INCREMENTS),
        deposit_fen=start_price.times(terms.deposit_rate).fen,
        snipe_window_seconds=int(terms.snipe_window.total_seconds()),
        extension_seconds=int(terms.extension.total_seconds()),
        max_extensions=terms.max_extensions,
        extensions=0,
        sequence=0,
        event_sequence=0,
        created_at=now,
    )
    session.add(auction)
    await session.flush()
    for organization_id in intent_holders or ():
        session.add(EligibleBidder(auction_id=auction.id, organization_id=organization_id))
    await record_event(session, "auction.created", _schedule_payload(auction))
    return auction


def _schedule_payload(auction: Auction) -> dict[str, Any]:
    return {
        "auction_id": str(auction.id),
        "listing_id": str(auction.listing_id),
        "starts_at": auction.starts_at.isoformat(),
        "ends_at": auction.ends_at.isoformat(),
    }


def _require_organizer(principal: Principal, auction: Auction) -> None:
    """The seller's owners and admins, or platform reviewers."""
    if principal.has_platform_role(PlatformRole.reviewer):
        return
    if not principal.is_member_of(auction.seller_organization_id):
        principal.require_platform_role(PlatformRole.reviewer)
    principal.require_manager(auction.seller_organization_id)


async def change_terms(
    session: AsyncSession,
    principal: Principal,
    auction_id: uuid.UUID,
    change: TermsChange,
    *,
    now: datetime,
) -> AuctionView:
    """Change a scheduled auction's schedule, prices, increments, deposit or anti-sniping
    (the seller's owners and admins, or platform reviewers).

    Raises NotFound; Forbidden; InvalidState once the auction has started; ValidationFailed
    naming the field for a start in the past, an end before the start, a reserve below the
    start price, or a deposit change after a deposit was requested.
    """
    auction = await auction_by_id(session, auction_id, lock=True)
    _require_organizer(principal, auction)
    if auction.state != AuctionState.scheduled or now >= auction.starts_at:
        raise InvalidState(detail_code="detail.auction_started")
    starts_at = change.starts_at or auction.starts_at
    if change.countdown is not None and (
        change.ends_at is not None or change.snipe_window is not None
    ):
        raise ValidationFailed("body.two_phase", "two_phase_alone")
    ends_at = change.ends_at or auction.scheduled_end_at
    if change.countdown is not None and change.free_period_ends_at is not None:
        if change.free_period_ends_at <= starts_at:
            raise ValidationFailed("body.two_phase.free_period_ends_at", "auction_end_before_start")
        ends_at = change.free_period_ends_at + change.countdown
    if change.starts_at is not None and change.starts_at <= now:
        raise ValidationFailed("body.starts_at", "auction_start_past")
    if ends_at <= starts_at:
        raise ValidationFailed("body.ends_at", "auction_end_before_start")
    start_price = change.start_price.fen if change.start_price else auction.start_price_fen
    reserve = (
        None
        if change.clear_reserve
        else (change.reserve.fen if change.reserve else auction.reserve_fen)
    )
    if reserve is not None and reserve < start_price:
        raise ValidationFailed("body.reserve", "reserve_below_start_price")
    if change.deposit is not None and change.deposit.fen != auction.deposit_fen:
        requested = await session.scalar(
            select(func.count()).select_from(Deposit).where(Deposit.auction_id == auction.id)
        )
        if requested:
            raise ValidationFailed("body.deposit", "deposit_already_requested")
        auction.deposit_fen = change.deposit.fen
    auction.starts_at = starts_at
    auction.ends_at = auction.scheduled_end_at = ends_at
    auction.start_price_fen = start_price
    auction.reserve_fen = reserve
    if change.increments is not None or change.increment_grid is not None:
        table = change.increments or queries.increments_of(auction)
        grid = change.increment_grid or queries.increments_of(auction).grid
        auction.increments = _increments_data(replace(table, grid=grid))
    if change.snipe_window is not None:
        auction.snipe_window_seconds = int(change.snipe_window.total_seconds())
    if change.extension is not None:
        auction.extension_seconds = int(change.extension.total_seconds())
    if change.max_extensions is not None:
        auction.max_extensions = change.max_extensions
    if change.snipe_window is not None:
        auction.countdown_seconds = None  # anti-sniping terms of its own: one phase again
    if change.format is not None:
        auction.format = change.format
    if change.countdown is not None:
        # 限时报价期: from the free period's end every bid restarts the countdown — the
        # anti-sniping rule with window and extension both the countdown, and no cap anyone
        # reaches (each restart is still counted).
        seconds = int(change.countdown.total_seconds())
        auction.countdown_seconds = seconds
        auction.snipe_window_seconds = auction.extension_seconds = seconds
        auction.max_extensions = COUNTDOWN_RESTARTS
    await record_event(session, "auction.rescheduled", _schedule_payload(auction))
    return (await _views(session, principal, [auction]))[0]


async def cancel_auction(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    auction_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> AuctionView:
    """Cancel an auction that has not been settled (platform reviewers), releasing every
    deposit. Raises NotFound, Forbidden, InvalidState once it is settled or failed."""
    principal.require_platform_role(PlatformRole.reviewer)
    auction = await auction_by_id(session, auction_id, lock=True)
    if auction.state in FINISHED:
        raise InvalidState(detail_code="detail.auction_finished")
    await release_deposits(session, provider, auction, winner=None, now=now)
    auction.state = AuctionState.cancelled
    auction.cancel_reason = reason
    auction.closed_at = auction.closed_at or now
    await emit(session, auction, "cancelled", {"state": "cancelled", "reason": reason}, now)
    await notify(session, auction)
    await record_event(
        session,
        "auction.cancelled",
        {"auction_id": str(auction.id), "listing_id": str(auction.listing_id), "reason": reason},
    )
    return (await _views(session, principal, [auction]))[0]


# --- bidding -------------------------------------------------------------------------------


async def _paddles(
    session: AsyncSession, auction_id: uuid.UUID, organizations: Iterable[Any]
) -> dict[Any, int | None]:
    rows = await session.execute(
        select(Deposit.organization_id, Deposit.paddle).where(
            Deposit.auction_id == auction_id, Deposit.organization_id.in_(list(organizations))
        )
    )
    return {row.organization_id: row.paddle for row in rows}


def check_not_ended(auction: Auction, now: datetime) -> None:
    if auction.state not in LIVE or now >= auction.ends_at:
        raise AuctionClosed(extensions={"ends_at": auction.ends_at.isoformat()})


def check_open(auction: Auction, now: datetime) -> None:
    check_not_ended(auction, now)
    if now < auction.starts_at:
        raise AuctionNotOpen(extensions={"starts_at": auction.starts_at.isoformat()})


def admitted(auction: Auction, deposit: Deposit | None, now: datetime) -> Deposit:
    """The bidder's held deposit, on an auction open now: holding one is what admits a bidder
    (its eligibility was checked when the deposit was requested), to open and sealed bidding
    alike. Raises AuctionClosed, DepositRequired, AuctionNotOpen."""
    if deposit is None or deposit.state != DepositState.held:
        # An ended auction says so to everyone; before the start, the deposit is what to do.
        check_not_ended(auction, now)
        raise DepositRequired()
    check_open(auction, now)
    return deposit


Private = TypeVar("Private", ProxyBid, SealedBid)
"""What a bidder keeps from the others: its proxy maximum, its sealed amount."""


async def own_on_auction(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID, kind: type[Private]
) -> list[Private]:
    """The caller's organizations' proxy maximums or sealed bids on an auction (private to
    them). Raises NotFound."""
    await auction_by_id(session, auction_id)
    rows = await session.scalars(
        select(kind).where(
            kind.auction_id == auction_id,
            kind.organization_id.in_(list(principal.memberships)),
        )
    )
    return list(rows.all())


@dataclass(frozen=True)
class BidView:
    bid: Bid
    paddle: int | None
    mine: bool


async def list_bids(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID, params: PageParams
) -> tuple[list[BidView], str | None]:
    """The accepted bids, newest first, by paddle number (bidders stay anonymous)."""
    await auction_by_id(session, auction_id)
    query = select(Bid).where(Bid.auction_id == auction_id)
    rows, cursor = await paginate(session, query, params, key=Bid.sequence, row_id=Bid.id)
    paddles = await _paddles(session, auction_id, {row.organization_id for row in rows})
    return [
        BidView(row, paddles.get(row.organization_id), principal.is_member_of(row.organization_id))
        for row in rows
    ], cursor

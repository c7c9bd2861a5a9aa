"""Rules of the auctions package: terms, deposits, live events, closing (bids: `bidding`).

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.accounts.models import Organization, VerificationStatus
from app.auctions import engine, queries, timing
from app.auctions.increments import DEFAULT_INCREMENTS, IncrementTable
from app.auctions.models import (
    FINISHED,
    LIVE,
    Auction,
    AuctionEvent,
    AuctionState,
    Bid,
    Deposit,
    DepositState,
    Eligibility,
    EligibleBidder,
    ProxyBid,
)
from app.core.auth import PlatformRole, Principal
from app.core.db import one_or_not_found
from app.core.errors import (
    AlreadyExists,
    DomainError,
    FieldError,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import service as deals
from app.deals.models import DealSource
from app.payments import ledger
from app.payments import service as payments
from app.payments.provider import PaymentProvider

NOTIFY_CHANNEL = "auction_events"
EVENTS_PAGE = 500


# --- errors --------------------------------------------------------------------------------


class AuctionClosed(DomainError):
    status, code = 409, "auction_closed"
    detail_code = "detail.auction_closed"


class AuctionNotOpen(DomainError):
    status, code = 409, "auction_not_open"
    detail_code = "detail.auction_not_open"


class DepositRequired(DomainError):
    status, code = 409, "deposit_required"
    detail_code = "detail.deposit_required"


class AlreadyLeading(DomainError):
    status, code = 409, "already_leading"
    detail_code = "detail.already_leading"


class BidTooLow(DomainError):
    """The amount is below what the rules accept now; `minimum` is the least that is."""

    status, code = 409, "bid_too_low"
    detail_code = "detail.bid_too_low"

    def __init__(self, minimum: Money, *, field_name: str = "body.amount") -> None:
        super().__init__(
            errors=[FieldError(field_name, "bid_too_low", {"minimum": str(minimum.amount)})],
            extensions={"minimum": minimum.to_api()},
            minimum=str(minimum.amount),
        )


class ProxyMaximumTooLow(BidTooLow):
    code = "proxy_maximum_too_low"
    detail_code = "detail.proxy_maximum_too_low"

    def __init__(self, minimum: Money) -> None:
        super().__init__(minimum, field_name="body.maximum")


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
    deposit: Money | None = None
    snipe_window: timedelta | None = None
    extension: timedelta | None = None
    max_extensions: int | None = None


def _increments_data(table: IncrementTable) -> dict[str, Any]:
    return {"steps": [[bound, step] for bound, step in table.steps], "above": table.above}


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
        table = queries.increments_of(auction)
        minimum = (
            auction.start_price_fen if price is None else price.fen + table.increment(price.fen)
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


async def _get(session: AsyncSession, auction_id: uuid.UUID, *, lock: bool = False) -> Auction:
    return await one_or_not_found(
        session, select(Auction).where(Auction.id == auction_id), lock=lock
    )


async def get_auction_for(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID
) -> AuctionView:
    """An auction: public to every caller (its listing was published); the reserve, the
    winner and the deal only to the seller and staff. Raises NotFound."""
    return (await _views(session, principal, [await _get(session, auction_id)]))[0]


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


# --- live events ---------------------------------------------------------------------------


async def _emit(
    session: AsyncSession, auction: Auction, kind: str, data: dict[str, Any], now: datetime
) -> None:
    """Add a live event; call `_notify` once after the last event of the transaction."""
    auction.event_sequence += 1
    session.add(
        AuctionEvent(
            auction_id=auction.id,
            sequence=auction.event_sequence,
            kind=kind,
            data=data,
            at=now,
        )
    )


async def _notify(session: AsyncSession, auction: Auction) -> None:
    # NOTIFY is delivered at commit, and only if the transaction commits.
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": NOTIFY_CHANNEL, "payload": f"{auction.id}:{auction.event_sequence}"},
    )


async def events_after(
    session: AsyncSession, auction_id: uuid.UUID, after: int, *, limit: int = EVENTS_PAGE
) -> list[AuctionEvent]:
    """The live events of an auction after number `after` (for SSE and its replay)."""
    rows = await session.scalars(
        select(AuctionEvent)
        .where(AuctionEvent.auction_id == auction_id, AuctionEvent.sequence > after)
        .order_by(AuctionEvent.sequence)
        .limit(limit)
    )
    return list(rows.all())


async def auction_state(session: AsyncSession, auction_id: uuid.UUID) -> AuctionState:
    """An auction's state (NotFound when there is no such auction)."""
    state = await session.scalar(select(Auction.state).where(Auction.id == auction_id))
    if state is None:
        raise NotFound()
    return state


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
    auction = await _get(session, auction_id, lock=True)
    _require_organizer(principal, auction)
    if auction.state != AuctionState.scheduled or now >= auction.starts_at:
        raise InvalidState(detail_code="detail.auction_started")
    starts_at = change.starts_at or auction.starts_at
    ends_at = change.ends_at or auction.scheduled_end_at
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
    if change.increments is not None:
        auction.increments = _increments_data(change.increments)
    if change.snipe_window is not None:
        auction.snipe_window_seconds = int(change.snipe_window.total_seconds())
    if change.extension is not None:
        auction.extension_seconds = int(change.extension.total_seconds())
    if change.max_extensions is not None:
        auction.max_extensions = change.max_extensions
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
    auction = await _get(session, auction_id, lock=True)
    if auction.state in FINISHED:
        raise InvalidState(detail_code="detail.auction_finished")
    await _release_deposits(session, provider, auction, winner=None, now=now)
    auction.state = AuctionState.cancelled
    auction.cancel_reason = reason
    auction.closed_at = auction.closed_at or now
    await _emit(session, auction, "cancelled", {"state": "cancelled", "reason": reason}, now)
    await _notify(session, auction)
    await record_event(
        session,
        "auction.cancelled",
        {"auction_id": str(auction.id), "listing_id": str(auction.listing_id), "reason": reason},
    )
    return (await _views(session, principal, [auction]))[0]


# --- deposits ------------------------------------------------------------------------------


async def _check_eligible(
    session: AsyncSession, auction: Auction, organization: Organization
) -> None:
    if organization.id == auction.seller_organization_id:
        raise ValidationFailed("body.organization_id", "bid_own_listing")
    if organization.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.organization_id", "bidder_unverified")
    if auction.eligibility == Eligibility.intent_holders:
        admitted = await session.scalar(
            select(EligibleBidder.organization_id).where(
                EligibleBidder.auction_id == auction.id,
                EligibleBidder.organization_id == organization.id,
            )
        )
        if admitted is None:
            raise ValidationFailed("body.organization_id", "bidder_not_intent_holder")


async def request_deposit(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    auction_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    now: datetime,
) -> Deposit:
    """Open a bidder's deposit (保证金) through the payments provider and return it with the
    payment instructions. Once confirmed, the organization may bid.

    Raises NotFound; AuctionClosed after the end; ValidationFailed(organization_id) for
    someone else's organization, the seller, an unverified or ineligible organization;
    AlreadyExists(organization_id) for a second deposit.
    """
    auction = await _get(session, auction_id)
    if auction.state not in LIVE or now >= auction.ends_at:
        raise AuctionClosed()
    organization = await accounts.acting_organization(session, principal, organization_id)
    await _check_eligible(session, auction, organization)
    existing = await session.scalar(
        select(Deposit.id).where(
            Deposit.auction_id == auction.id, Deposit.organization_id == organization.id
        )
    )
    if existing is not None:
        raise AlreadyExists("body.organization_id")
    amount = Money(auction.deposit_fen)
    hold = await provider.create_hold(amount, purpose="bzj", payer_name=organization.name)
    deposit = Deposit(
        auction_id=auction.id,
        organization_id=organization.id,
        amount_fen=amount.fen,
        state=DepositState.pending,
        provider=hold.provider,
        provider_reference=hold.reference,
        instructions=hold.instructions,
        requested_by_id=principal.user_id,
        created_at=now,
    )
    session.add(deposit)
    await session.flush()
    if hold.confirmed or amount.fen == 0:
        await mark_deposit_held(session, deposit, now=now, confirmed_by_id=None)
    await record_event(
        session,
        "deposit.requested",
        {
            "deposit_id": str(deposit.id),
            "auction_id": str(auction.id),
            "organization_id": str(organization.id),
        },
    )
    return deposit


async def mark_deposit_held(
    session: AsyncSession,
    deposit: Deposit,
    *,
    now: datetime,
    confirmed_by_id: uuid.UUID | None,
) -> Deposit:
    """Record that the provider holds a deposit: give the bidder their number (竞买号). The one
    path for the offline confirmation and the provider's webhook (idempotent)."""
    if deposit.state != DepositState.pending:
        return deposit
    # The auction row lock numbers paddles without gaps or duplicates.
    auction = await _get(session, deposit.auction_id, lock=True)
    last = await session.scalar(
        select(func.max(Deposit.paddle)).where(Deposit.auction_id == auction.id)
    )
    deposit.state = DepositState.held
    deposit.paddle = (last or 0) + 1
    deposit.confirmed_at = now
    deposit.confirmed_by_id = confirmed_by_id
    ledger.transfer(
        session,
        debit=ledger.bank(deposit.provider),
        credit=ledger.deposit_account(auction.id, deposit.organization_id),
        amount_fen=deposit.amount_fen,
        memo="deposit held",
        now=now,
    )
    await record_event(
        session,
        "deposit.held",
        {
            "deposit_id": str(deposit.id),
            "auction_id": str(auction.id),
            "organization_id": str(deposit.organization_id),
        },
    )
    return deposit


async def cancel_pending_deposit(session: AsyncSession, deposit: Deposit, *, now: datetime) -> None:
    """The provider dropped a deposit that was never confirmed (idempotent; a confirmed deposit
    is released only by the auction's end)."""
    if deposit.state == DepositState.pending:
        deposit.state = DepositState.cancelled
        deposit.settled_at = now


async def confirm_deposit(
    session: AsyncSession,
    principal: Principal,
    auction_id: uuid.UUID,
    deposit_id: uuid.UUID,
    *,
    now: datetime,
) -> Deposit:
    """Platform finance confirms that an offline deposit arrived (idempotent).

    Raises Forbidden for anyone but finance staff; NotFound; InvalidState when the deposit
    was cancelled or the auction has ended.
    """
    principal.require_platform_role(PlatformRole.finance)
    deposit = await session.scalar(
        select(Deposit)
        .where(Deposit.id == deposit_id, Deposit.auction_id == auction_id)
        .with_for_update()
    )
    if deposit is None:
        raise NotFound()
    if deposit.state not in {DepositState.pending, DepositState.held}:
        raise InvalidState(detail_code="detail.deposit_settled")
    return await mark_deposit_held(session, deposit, now=now, confirmed_by_id=principal.user_id)


async def list_deposits(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID
) -> list[Deposit]:
    """Deposits of an auction: the caller's organizations', or all of them for finance and
    admin staff. Raises NotFound."""
    auction = await _get(session, auction_id)
    query = select(Deposit).where(Deposit.auction_id == auction.id).order_by(Deposit.created_at)
    if not principal.has_platform_role(PlatformRole.finance):
        query = query.where(Deposit.organization_id.in_(list(principal.memberships)))
    return list((await session.scalars(query)).all())


async def _release_deposits(
    session: AsyncSession,
    provider: PaymentProvider,
    auction: Auction,
    *,
    winner: tuple[uuid.UUID, uuid.UUID] | None,
    now: datetime,
) -> None:
    """Release every held deposit but the winner's, which is applied to their deal
    (`winner` = (organization, deal)); cancel unconfirmed ones. Each movement is booked."""
    deposits = (
        await session.scalars(
            select(Deposit).where(Deposit.auction_id == auction.id).with_for_update()
        )
    ).all()
    for deposit in deposits:
        amount = Money(deposit.amount_fen)
        account = ledger.deposit_account(auction.id, deposit.organization_id)
        if deposit.state == DepositState.pending:
            deposit.state = DepositState.cancelled
        elif deposit.state != DepositState.held:
            continue
        elif winner is not None and deposit.organization_id == winner[0]:
            await provider.capture_hold(deposit.provider_reference, amount)
            deposit.state = DepositState.applied
            ledger.transfer(
                session,
                debit=account,
                credit=ledger.deal_account(winner[1]),
                amount_fen=amount.fen,
                memo="deposit applied to the price",
                now=now,
                deal_id=winner[1],
            )
            await payments.record_applied_deposit(
                session,
                deal_id=winner[1],
                payer_organization_id=deposit.organization_id,
                amount_fen=amount.fen,
                provider=deposit.provider,
                reference=deposit.provider_reference,
                now=now,
            )
        else:
            await provider.release_hold(deposit.provider_reference, amount)
            deposit.state = DepositState.released
            ledger.transfer(
                session,
                debit=account,
                credit=ledger.bank(deposit.provider),
                amount_fen=amount.fen,
                memo="deposit released",
                now=now,
            )
        deposit.settled_at = now
        await record_event(
            session,
            f"deposit.{deposit.state.value}",
            {
                "deposit_id": str(deposit.id),
                "auction_id": str(auction.id),
                "organization_id": str(deposit.organization_id),
            },
        )


# --- bidding -------------------------------------------------------------------------------


async def _open_if_started(session: AsyncSession, auction: Auction, now: datetime) -> bool:
    if auction.state != AuctionState.scheduled or now < auction.starts_at:
        return False
    auction.state = AuctionState.open
    await _emit(session, auction, "opened", {"state": "open"}, now)
    await record_event(session, "auction.opened", opened_payload(auction))
    return True


def opened_payload(auction: Auction) -> dict[str, Any]:
    """The outbox payload of an auction's opening."""
    return {
        "auction_id": str(auction.id),
        "listing_id": str(auction.listing_id),
        "ends_at": auction.ends_at.isoformat(),
    }


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


async def list_proxies(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID
) -> list[ProxyBid]:
    """The caller's organizations' proxy maximums on an auction (private to them)."""
    await _get(session, auction_id)
    rows = await session.scalars(
        select(ProxyBid).where(
            ProxyBid.auction_id == auction_id,
            ProxyBid.organization_id.in_(list(principal.memberships)),
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
    await _get(session, auction_id)
    query = select(Bid).where(Bid.auction_id == auction_id)
    rows, cursor = await paginate(session, query, params, key=Bid.sequence, row_id=Bid.id)
    paddles = await _paddles(session, auction_id, {row.organization_id for row in rows})
    return [
        BidView(row, paddles.get(row.organization_id), principal.is_member_of(row.organization_id))
        for row in rows
    ], cursor


# --- opening, closing, settling (the worker) ------------------------------------------------


async def open_if_due(session: AsyncSession, auction_id: uuid.UUID, *, now: datetime) -> bool:
    """Open a scheduled auction whose start has come (idempotent)."""
    auction = await _get(session, auction_id, lock=True)
    if now >= auction.ends_at or not await _open_if_started(session, auction, now):
        return False
    await _notify(session, auction)
    return True


async def close_if_due(session: AsyncSession, auction_id: uuid.UUID, *, now: datetime) -> bool:
    """End the bidding of an auction whose end (after extensions) has passed (idempotent:
    False when not yet due or already closed)."""
    auction = await _get(session, auction_id, lock=True)
    if auction.state not in LIVE or now < auction.ends_at:
        return False
    book = (await queries.standing(session, auction.id, None)).book
    sale = timing.hammer(book, auction.reserve_fen)
    auction.state = AuctionState.closed
    auction.closed_at = now
    data = {
        "state": "closed",
        "sold": sale is not None,
        "price": Money(book.price).to_api() if book.price is not None else None,
    }
    await _emit(session, auction, "closed", data, now)
    await _notify(session, auction)
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
    auction = await _get(session, auction_id, lock=True)
    if auction.state != AuctionState.closed:
        return None
    sale = timing.hammer(
        (await queries.standing(session, auction.id, None)).book, auction.reserve_fen
    )
    auction.settled_at = now
    payload: dict[str, Any] = {"auction_id": str(auction.id), "listing_id": str(auction.listing_id)}
    if sale is None:
        await _release_deposits(session, provider, auction, winner=None, now=now)
        auction.state = AuctionState.failed
        await _emit(session, auction, "failed", {"state": "failed"}, now)
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
        await _release_deposits(session, provider, auction, winner=(winner, deal.id), now=now)
        auction.state = AuctionState.settled
        auction.winner_organization_id = winner
        auction.hammer_price_fen = sale.price
        auction.deal_id = deal.id
        await _emit(
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
    await _notify(session, auction)
    return auction.state


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

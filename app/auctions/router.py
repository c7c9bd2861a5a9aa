"""HTTP routes of the auctions package."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions import bidding, deposits, queries, sealed, service
from app.auctions.auth import AuctionOrganize, AuctionRead, AuctionStaff, Bidding
from app.auctions.live import LiveEvents
from app.auctions.models import AuctionState, Bid, Deposit, ProxyBid, SealedBid
from app.auctions.schemas import (
    AntiSniping,
    AuctionOut,
    BidCreate,
    BidOut,
    BidPlaced,
    Cancellation,
    DepositCreate,
    DepositOut,
    ProxyCreate,
    ProxyOut,
    ProxySet,
    SealedBidOut,
    TermsUpdate,
    TwoPhase,
    increment_steps,
    increment_table,
)
from app.core.clock import Now
from app.core.db import Session, Sessions
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf, RequestKeyOf
from app.core.money import Money
from app.core.pagination import Page, PageParams, page_params
from app.core.ratelimit import RateLimit
from app.core.reads import Reads
from app.core.routing import planned
from app.payments.provider import Provider

router = APIRouter(
    prefix="/v1/auctions", tags=["auctions"], responses=problem_responses(401, 403, 404, 422)
)
Pagination = Annotated[PageParams, Depends(page_params)]
FINAL_KINDS = frozenset({"settled", "failed", "cancelled"})
POLL_SECONDS = 5.0


def deposit_out(deposit: Deposit) -> DepositOut:
    return DepositOut(
        id=deposit.id,
        auction_id=deposit.auction_id,
        organization_id=deposit.organization_id,
        amount=Money(deposit.amount_fen),
        state=deposit.state,
        provider=deposit.provider,
        reference=deposit.provider_reference,
        instructions=deposit.instructions,
        paddle=deposit.paddle,
        created_at=deposit.created_at,
        confirmed_at=deposit.confirmed_at,
        settled_at=deposit.settled_at,
    )


def auction_out(view: service.AuctionView) -> AuctionOut:
    auction = view.auction
    party = view.privileged or any(
        d.organization_id == auction.winner_organization_id for d in view.deposits
    )
    return AuctionOut(
        id=auction.id,
        listing_id=auction.listing_id,
        seller_organization_id=auction.seller_organization_id,
        state=auction.state,
        eligibility=auction.eligibility,
        starts_at=auction.starts_at,
        ends_at=auction.ends_at,
        scheduled_end_at=auction.scheduled_end_at,
        extensions=auction.extensions,
        start_price=Money(auction.start_price_fen),
        current_price=view.price,
        minimum_bid=view.minimum_bid,
        bid_count=view.bid_count,
        leader_paddle=view.leader_paddle,
        reserve_met=view.reserve_met,
        reserve=Money(auction.reserve_fen)
        if view.privileged and auction.reserve_fen is not None
        else None,
        increments=increment_steps(queries.increments_of(auction)),
        increment_grid=queries.increments_of(auction).grid,
        format=auction.format,
        deposit=Money(auction.deposit_fen),
        anti_sniping=AntiSniping(
            window_seconds=auction.snipe_window_seconds,
            extension_seconds=auction.extension_seconds,
            max_extensions=auction.max_extensions,
        ),
        two_phase=TwoPhase(
            free_period_ends_at=auction.scheduled_end_at
            - timedelta(seconds=auction.countdown_seconds),
            countdown_seconds=auction.countdown_seconds,
        )
        if auction.countdown_seconds is not None
        else None,
        cancel_reason=auction.cancel_reason,
        closed_at=auction.closed_at,
        settled_at=auction.settled_at,
        hammer_price=Money(auction.hammer_price_fen)
        if auction.hammer_price_fen is not None
        else None,
        winner_organization_id=auction.winner_organization_id if party else None,
        deal_id=auction.deal_id if party else None,
        your_deposits=[deposit_out(d) for d in view.deposits],
        you_lead=view.leading,
    )


def bid_out(bid: Bid, *, paddle: int | None, mine: bool) -> BidOut:
    return BidOut(
        sequence=bid.sequence,
        amount=Money(bid.amount_fen),
        paddle=paddle,
        by_proxy=bid.by_proxy,
        mine=mine,
        placed_at=bid.placed_at,
    )


def _bids_out(outcome: bidding.BidOutcome, paddle: int | None) -> list[BidOut]:
    # Proxies answering for others show no paddle here; GET /bids and the live events do.
    own = {d.organization_id for d in outcome.view.deposits}
    return [
        bid_out(
            bid,
            paddle=paddle if bid.organization_id in own else None,
            mine=bid.organization_id in own,
        )
        for bid in outcome.bids
    ]


def _own_paddle(view: service.AuctionView) -> int | None:
    return next((d.paddle for d in view.deposits if d.paddle is not None), None)


def proxy_out(proxy: ProxyBid) -> ProxyOut:
    return ProxyOut(
        organization_id=proxy.organization_id,
        maximum=Money(proxy.maximum_fen),
        set_at=proxy.set_at,
    )


@router.get("", response_model=Page[AuctionOut], summary="List auctions")
async def list_auctions(
    session: Session,
    caller: AuctionRead,
    pagination: Pagination,
    state: AuctionState | None = None,
    listing_id: uuid.UUID | None = None,
) -> Page[AuctionOut]:
    """Auctions newest first, optionally of one state or one listing."""
    views, cursor = await service.list_auctions(
        session, caller, pagination, state=state, listing_id=listing_id
    )
    return Page(items=[auction_out(view) for view in views], next_cursor=cursor)


@router.get("/{auction_id}", response_model=AuctionOut, summary="Get an auction")
async def get_auction(session: Session, caller: AuctionRead, auction_id: uuid.UUID) -> AuctionOut:
    """Schedule, price, minimum next bid, and your deposit and position. The reserve is shown
    to the seller and staff only; others see whether it is met."""
    return auction_out(await service.get_auction_for(session, caller, auction_id))


@router.patch(
    "/{auction_id}",
    response_model=AuctionOut,
    summary="Change a scheduled auction's terms",
    responses=problem_responses(409),
)
async def change_terms(
    session: Session, now: Now, caller: AuctionOrganize, auction_id: uuid.UUID, body: TermsUpdate
) -> AuctionOut:
    """Schedule, start price, hidden reserve, increments, deposit and anti-sniping, until the
    auction starts (the seller's owners and admins, or platform reviewers)."""
    given = body.model_fields_set
    change = service.TermsChange(
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        start_price=body.start_price,
        reserve=body.reserve,
        clear_reserve="reserve" in given and body.reserve is None,
        increments=increment_table(body.increments) if body.increments else None,
        increment_grid=body.increment_grid,
        deposit=body.deposit,
        snipe_window=timedelta(seconds=body.anti_sniping.window_seconds)
        if body.anti_sniping
        else None,
        extension=timedelta(seconds=body.anti_sniping.extension_seconds)
        if body.anti_sniping
        else None,
        max_extensions=body.anti_sniping.max_extensions if body.anti_sniping else None,
        free_period_ends_at=body.two_phase.free_period_ends_at if body.two_phase else None,
        countdown=timedelta(seconds=body.two_phase.countdown_seconds) if body.two_phase else None,
        format=body.format,
    )
    return auction_out(await service.change_terms(session, caller, auction_id, change, now=now))


@router.post(
    "/{auction_id}/cancel",
    response_model=AuctionOut,
    summary="Cancel an auction (platform)",
    responses=problem_responses(409),
)
async def cancel_auction(
    session: Session,
    now: Now,
    provider: Provider,
    caller: AuctionStaff,
    auction_id: uuid.UUID,
    body: Cancellation,
) -> AuctionOut:
    """Platform reviewers cancel an auction that is not yet settled, with a reason; every
    deposit is released."""
    return auction_out(
        await service.cancel_auction(
            session, caller, provider, auction_id, reason=body.reason, now=now
        )
    )


@router.post(
    "/{auction_id}/deposits",
    response_model=DepositOut,
    status_code=status.HTTP_201_CREATED,
    summary="Request a deposit (保证金)",
    responses=problem_responses(409),
)
async def request_deposit(
    session: Session,
    now: Now,
    provider: Provider,
    caller: Bidding,
    idempotency: IdempotencyOf,
    auction_id: uuid.UUID,
    body: DepositCreate,
) -> DepositOut:
    """Open your organization's deposit and get the payment instructions (offline: a bank
    transfer with the reference in the remark). You may bid once it is confirmed."""
    await idempotency.claim(caller)
    deposit = await deposits.request_deposit(
        session, caller, provider, auction_id, organization_id=body.organization_id, now=now
    )
    return await idempotency.remember(deposit_out(deposit), status_code=201)


@router.get("/{auction_id}/deposits", response_model=list[DepositOut], summary="List deposits")
async def list_deposits(
    session: Session, caller: Bidding, auction_id: uuid.UUID
) -> list[DepositOut]:
    """Your organizations' deposits on the auction; finance staff see every deposit."""
    return [deposit_out(d) for d in await deposits.list_deposits(session, caller, auction_id)]


@router.post(
    "/{auction_id}/deposits/{deposit_id}/confirm",
    response_model=DepositOut,
    summary="Confirm an offline deposit (platform finance)",
    responses=problem_responses(409),
)
async def confirm_deposit(
    session: Session, now: Now, caller: AuctionStaff, auction_id: uuid.UUID, deposit_id: uuid.UUID
) -> DepositOut:
    """Finance staff record that the bank transfer arrived; the bidder gets their number."""
    return deposit_out(
        await deposits.confirm_deposit(session, caller, auction_id, deposit_id, now=now)
    )


bid_rate = RateLimit("bids")


async def place_bid(
    sessions: Sessions,
    reads: Reads,
    now: Now,
    caller: Bidding,
    idempotency: RequestKeyOf,
    auction_id: uuid.UUID,
    body: BidCreate,
) -> BidPlaced:
    """Bid for your organization (a confirmed deposit is needed): at least the start price,
    then the current price plus the increment. Refusals say why: `bid_too_low` (with
    `minimum`), `already_leading`, `auction_not_open`, `auction_closed`, `deposit_required`.
    Send `Idempotency-Key` to retry safely."""
    return await bidding.place_bid(
        sessions,
        reads,
        caller,
        auction_id,
        organization_id=body.organization_id,
        amount=body.amount,
        now=now,
        idempotency=idempotency,
        answer=lambda outcome: BidPlaced(
            auction=auction_out(outcome.view),
            bids=_bids_out(outcome, _own_paddle(outcome.view)),
            extended=outcome.extended,
        ),
    )


def _bidding_route(
    path: str,
    endpoint: Callable[..., Coroutine[Any, Any, Any]],
    answer: type[BaseModel],
    summary: str,
) -> None:
    """A route that bids (a bid, a proxy maximum): counted in the `bids` class, 201 when
    stored, and — the hottest write path — its dependencies solved by a plan made once
    (`app/core/routing.py`)."""
    planned(
        router,
        path,
        methods=["POST"],
        response_model=answer,
        dependencies=[Depends(bid_rate)],
        status_code=status.HTTP_201_CREATED,
        summary=summary,
        responses=problem_responses(409),
    )(endpoint)


_bidding_route("/{auction_id}/bids", place_bid, BidPlaced, "Place a bid")


@router.get("/{auction_id}/bids", response_model=Page[BidOut], summary="List bids")
async def list_bids(
    session: Session, caller: AuctionRead, pagination: Pagination, auction_id: uuid.UUID
) -> Page[BidOut]:
    """Every accepted bid, newest first, by bidder number."""
    views, cursor = await service.list_bids(session, caller, auction_id, pagination)
    return Page(
        items=[bid_out(view.bid, paddle=view.paddle, mine=view.mine) for view in views],
        next_cursor=cursor,
    )


async def set_proxy(
    sessions: Sessions,
    reads: Reads,
    now: Now,
    caller: Bidding,
    idempotency: RequestKeyOf,
    auction_id: uuid.UUID,
    body: ProxyCreate,
) -> ProxySet:
    """The engine bids for your organization by the increment whenever you are outbid, up to
    the maximum. Between two proxies the higher wins at the lower maximum plus one increment;
    equal maximums go to the earlier. Raising your own maximum never raises your price."""
    return await bidding.set_proxy(
        sessions,
        reads,
        caller,
        auction_id,
        organization_id=body.organization_id,
        maximum=body.maximum,
        now=now,
        idempotency=idempotency,
        answer=lambda proxy, outcome: ProxySet(
            proxy=proxy_out(proxy),
            auction=auction_out(outcome.view),
            bids=_bids_out(outcome, _own_paddle(outcome.view)),
            extended=outcome.extended,
        ),
    )


_bidding_route("/{auction_id}/proxy-bids", set_proxy, ProxySet, "Set a proxy maximum (代理出价)")


@router.get(
    "/{auction_id}/proxy-bids", response_model=list[ProxyOut], summary="Your proxy maximums"
)
async def list_proxies(session: Session, caller: Bidding, auction_id: uuid.UUID) -> list[ProxyOut]:
    """Your organizations' proxy maximums on the auction (nobody else sees them)."""
    proxies = await service.own_on_auction(session, caller, auction_id, ProxyBid)
    return [proxy_out(p) for p in proxies]


def sealed_bid_out(bid: SealedBid) -> SealedBidOut:
    return SealedBidOut(
        id=bid.id,
        auction_id=bid.auction_id,
        organization_id=bid.organization_id,
        amount=Money(bid.amount_fen),
        submitted_at=bid.submitted_at,
    )


@router.post(
    "/{auction_id}/sealed-bids",
    response_model=SealedBidOut,
    dependencies=[Depends(bid_rate)],
    status_code=status.HTTP_201_CREATED,
    summary="Submit your sealed bid (一次性报价)",
    responses=problem_responses(409),
)
async def submit_sealed_bid(
    session: Session,
    now: Now,
    caller: Bidding,
    idempotency: IdempotencyOf,
    auction_id: uuid.UUID,
    body: BidCreate,
) -> SealedBidOut:
    """A sealed auction's one amount per bidder (a confirmed deposit is needed), at least the
    start price and a whole number of increments above it; nobody else sees it until the
    auction closes, when the highest at or above the reserve wins (the earlier of equal ones).
    A second one is a 409 `already_exists`; an open-bidding auction answers
    `auction_not_sealed`."""
    await idempotency.claim(caller)
    sealed_bid = await sealed.submit_sealed_bid(
        session,
        caller,
        auction_id,
        organization_id=body.organization_id,
        amount=body.amount,
        now=now,
    )
    return await idempotency.remember(sealed_bid_out(sealed_bid), status_code=201)


@router.get(
    "/{auction_id}/sealed-bids", response_model=list[SealedBidOut], summary="Your sealed bid"
)
async def list_sealed_bids(
    session: Session, caller: Bidding, auction_id: uuid.UUID
) -> list[SealedBidOut]:
    """Your organizations' sealed bids on the auction (nobody else sees them)."""
    own = await service.own_on_auction(session, caller, auction_id, SealedBid)
    return [sealed_bid_out(b) for b in own]


async def _existing_auction(session: Session, auction_id: uuid.UUID) -> AuctionState:
    return await queries.auction_state(session, auction_id)


@router.get(
    "/{auction_id}/events",
    response_class=EventSourceResponse,
    summary="Live events (Server-Sent Events)",
    responses={200: {"description": "`text/event-stream` of the auction's events"}},
)
async def stream_events(
    request: Request,
    caller: AuctionRead,
    auction_id: uuid.UUID,
    state: Annotated[AuctionState, Depends(_existing_auction)],
    last_event_id: Annotated[
        int | None,
        Header(ge=0, description="Resume after this event: the missed ones are replayed."),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """`opened`, `bid`, `price`, `extended` (or `sealed_bid`), `closed`, then `settled`, `failed` or
    `cancelled`; each with an `id`. Reconnect with `Last-Event-ID` to get what you missed.
    The stream ends after the auction's final event."""
    live: LiveEvents = request.app.state.live
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    after = last_event_id or 0
    finished = state in {AuctionState.settled, AuctionState.failed, AuctionState.cancelled}
    async with live.subscribe(auction_id) as wake:
        while True:
            wake.clear()
            async with sessionmaker() as session:
                events = await queries.events_after(session, auction_id, after)
            for event in events:
                yield ServerSentEvent(id=str(event.sequence), event=event.kind, data=event.data)
                after = event.sequence
                finished = finished or event.kind in FINAL_KINDS
            if events and len(events) == queries.EVENTS_PAGE:
                continue
            if finished:
                return
            # Woken by a notice, or looking anyway after a while (a notice can be lost).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)

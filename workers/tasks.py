"""Jobs. Each is idempotent: it re-reads state and may safely run twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime

import httpx
import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auctions import service as auctions
from app.brokers import service as rewards
from app.core import idempotency, ratelimit
from app.core.clock import Clock
from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.outbox import OutboxEvent
from app.deals import service as deals
from app.demands import service as demands
from app.listings import service as listings
from app.payments.provider import PaymentProvider
from app.payments.providers import provider_for
from app.tax import service as tax
from app.tax.models import FilingKind
from app.webhooks import service as webhooks
from search.backend import SearchBackend
from search.service import backend_for, documents_for, sync_listings
from workers.app import clock, database_url, worker_app
from workers.relay import relay_pending, subscribe

logger = structlog.get_logger(__name__)


_engines: dict[str, AsyncEngine] = {}


def sessionmaker() -> async_sessionmaker[AsyncSession]:
    """Sessions for the jobs, on one small pool per database for the process."""
    url = database_url()
    if url not in _engines:
        _engines[url] = create_engine(url, pool_size=2)
    return create_sessionmaker(_engines[url], clock)


async def dispose_engines() -> None:
    """Close the jobs' pools: their connections belong to the event loop that opened them, so
    code that ran jobs in a loop of its own (the demo's history) closes them before it ends."""
    _search_backends.clear()
    while _engines:
        await _engines.popitem()[1].dispose()


@worker_app.periodic(cron="* * * * *", periodic_id="relay_outbox")
@worker_app.task(name="relay_outbox", queue="outbox", queueing_lock="relay_outbox")
async def relay_outbox(timestamp: int) -> int:
    """Relay committed outbox events to their subscribers (every minute)."""
    return await relay_pending(sessionmaker(), clock.now)


@worker_app.task(name="close_publication_window", queue="listings", retry=5)
async def close_publication_window(listing_id: str) -> str | None:
    """Close one listing's publication window when it ends (scheduled at publication)."""
    async with sessionmaker()() as session, session.begin():
        outcome = await listings.close_publication_window(
            session, uuid.UUID(listing_id), now=clock.now()
        )
    return outcome.value if outcome else None


@worker_app.periodic(cron="*/5 * * * *", periodic_id="sweep_publication_windows")
@worker_app.task(name="sweep_publication_windows", queue="listings", queueing_lock="sweep_windows")
async def sweep_publication_windows(timestamp: int) -> int:
    """Close every window that has ended, in case a scheduled close was lost or late."""
    return await close_due_windows(sessionmaker(), clock.now())


async def close_due_windows(maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Close the due windows one transaction each, so one failure does not hold the rest."""
    async with maker() as session:
        due = await listings.due_listings(session, now)
    closed = 0
    for listing_id in due:
        async with maker() as session, session.begin():
            if await listings.close_publication_window(session, listing_id, now=now):
                closed += 1
    return closed


@subscribe("listing.published")
async def schedule_window_close(event: OutboxEvent) -> None:
    """Schedule the close at the window's end. The queueing lock keeps one pending close per
    listing if the event is relayed twice."""
    listing_id = event.payload["listing_id"]
    try:
        await close_publication_window.configure(
            schedule_at=datetime.fromisoformat(event.payload["window_ends_at"]),
            queueing_lock=f"close_window:{listing_id}",
        ).defer_async(listing_id=listing_id)
    except AlreadyEnqueued:
        logger.info("window_close_already_scheduled", listing_id=listing_id)


def search_backend() -> SearchBackend:
    """The process's search backend, made once per database like its engine: a backend made
    per job would leave one more read pool listening on the engine every time."""
    url = database_url()
    if url not in _search_backends:
        settings = get_settings().model_copy(update={"database_url": url})
        _search_backends[url] = backend_for(settings, sessionmaker())
    return _search_backends[url]


_search_backends: dict[str, SearchBackend] = {}


# --- auctions -------------------------------------------------------------------------------


@worker_app.task(name="advance_auction", queue="auctions", retry=5)
async def advance_auction(auction_id: str) -> str | None:
    """Open, close and settle one auction as its times come, then come back at the next one
    (the end is re-read each time: anti-sniping may have moved it)."""
    next_at = await advance(
        sessionmaker(), provider_for(get_settings()), uuid.UUID(auction_id), clock.now()
    )
    if next_at is not None:
        await schedule_auction(auction_id, next_at)
    return next_at.isoformat() if next_at else None


@worker_app.periodic(cron="* * * * *", periodic_id="sweep_auctions")
@worker_app.task(name="sweep_auctions", queue="auctions", queueing_lock="sweep_auctions")
async def sweep_auctions(timestamp: int) -> int:
    """Advance every auction whose start or end has passed, in case a scheduled job was lost."""
    maker, provider, now = sessionmaker(), provider_for(get_settings()), clock.now()
    async with maker() as session:
        due = await auctions.due_auctions(session, now)
    for auction_id in due:
        await advance(maker, provider, auction_id, now)
    return len(due)


async def advance(
    maker: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    auction_id: uuid.UUID,
    now: datetime,
) -> datetime | None:
    """Do what is due for one auction, a transaction per step (open; close; settle), and say
    when to look again. Each step locks the auction and re-checks its state, so two workers
    doing this at once open, close and settle it exactly once."""
    async with maker() as session, session.begin():
        await auctions.open_if_due(session, auction_id, now=now)
    async with maker() as session, session.begin():
        await auctions.close_if_due(session, auction_id, now=now)
    async with maker() as session, session.begin():
        await auctions.settle(session, provider, auction_id, now=now)
    async with maker() as session:
        return await auctions.next_step_at(session, auction_id)


async def schedule_auction(auction_id: str, at: datetime, *, moved: bool = False) -> None:
    """Have the worker look at the auction at `at`. One job waits per auction; when the
    auction's times `moved`, the job waiting for the old ones is withdrawn first, so the auction
    opens and closes at its new times rather than at the next sweep."""
    lock = f"advance_auction:{auction_id}"
    if moved:
        for job in await worker_app.job_manager.list_jobs_async(queueing_lock=lock, status="todo"):
            if job.id is not None:
                await worker_app.job_manager.cancel_job_by_id_async(job.id, delete_job=True)
    try:
        await advance_auction.configure(schedule_at=at, queueing_lock=lock).defer_async(
            auction_id=auction_id
        )
    except AlreadyEnqueued:
        # One job waits already (another relay of the event put it there); it re-reads the
        # times when it runs.
        logger.info("auction_already_scheduled", auction_id=auction_id)


@subscribe("auction.created")
async def schedule_auction_start(event: OutboxEvent) -> None:
    """Look at the auction when it starts."""
    await schedule_auction(
        event.payload["auction_id"], datetime.fromisoformat(event.payload["starts_at"])
    )


@subscribe("auction.rescheduled")
async def move_auction_start(event: OutboxEvent) -> None:
    """Look at the auction at its new start, not the old one."""
    await schedule_auction(
        event.payload["auction_id"],
        datetime.fromisoformat(event.payload["starts_at"]),
        moved=True,
    )


@worker_app.periodic(cron="17 * * * *", periodic_id="purge_idempotency_keys")
@worker_app.task(name="purge_idempotency_keys", queue="maintenance")
async def purge_idempotency_keys(timestamp: int) -> int:
    """Forget Idempotency-Keys older than 24 hours (hourly)."""
    async with sessionmaker()() as session, session.begin():
        return await idempotency.purge_expired(session, clock.wall())


STALLED_AFTER_SECONDS = 30.0
"""A worker silent this long is dead (procrastinate's workers beat every 10 s and prune peers
silent for 30 s)."""


@worker_app.periodic(cron="* * * * *", periodic_id="retry_stalled_jobs")
@worker_app.task(name="retry_stalled_jobs", queue="maintenance", queueing_lock="retry_stalled")
async def retry_stalled_jobs(timestamp: int) -> int:
    """Every minute: put back the jobs of workers that died mid-job."""
    return await requeue_stalled_jobs(worker_app, seconds_since_heartbeat=STALLED_AFTER_SECONDS)


async def requeue_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float) -> int:
    """Requeue the jobs left `doing` by workers with no heartbeat for that long. A job's
    transaction died with its worker, and every job re-reads state and writes under unique keys
    and locks, so the rerun finishes the work once. Returns how many were requeued."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        logger.warning("job_stalled_requeued", job_id=job.id, task=job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)


@worker_app.periodic(cron="*/5 * * * *", periodic_id="purge_rate_limit_counters")
@worker_app.task(name="purge_rate_limit_counters", queue="maintenance")
async def purge_rate_limit_counters(timestamp: int) -> int:
    """Forget rate-limit windows that have passed (every five minutes)."""
    async with sessionmaker()() as session, session.begin():
        return await ratelimit.purge_counters(session, clock.wall())


# --- rewards ------------------------------------------------------------------------------


@subscribe("contract.registered")
@subscribe("payment.received")
@subscribe("payment.refunded")
@subscribe("claim.approved")
async def compute_rewards(event: OutboxEvent) -> None:
    """Recompute the deal's rewards when its contract is registered, money moves or a claim is
    approved (idempotent: equal results append nothing)."""
    async with sessionmaker()() as session, session.begin():
        await rewards.compute_rewards(session, uuid.UUID(event.payload["deal_id"]), now=clock.now())


# --- tax filings --------------------------------------------------------------------------


@subscribe("payment.received")
@subscribe("payment.refunded")
@subscribe("contract.registered")
@subscribe("inventor_rewards.recorded")
async def recompute_filings(event: OutboxEvent) -> None:
    """Recompute both parties' existing filings (an amendment when a submitted one changes);
    periods not filed yet are filed when they end (`file_closed_periods`)."""
    deal_id = uuid.UUID(event.payload["deal_id"])
    now = clock.now()
    async with sessionmaker()() as session:
        parties = await deals.parties_of(session, deal_id)
        filed = [
            (party, *key) for party in parties for key in await tax.filed_periods(session, party)
        ]
    for party, kind, period in filed:
        async with sessionmaker()() as session, session.begin():
            await tax.compute_filing(session, party, kind, period, now=now)


@worker_app.periodic(cron="5 0 * * *", periodic_id="file_closed_periods")
@worker_app.task(name="file_closed_periods", queue="tax", queueing_lock="file_closed_periods")
async def file_closed_periods(timestamp: int) -> int:
    """Daily: file the last closed period of every kind for each taxpayer that has something to
    file in it (idempotent: taxpayers already filed are kept current by the events)."""
    return await file_period_end(sessionmaker(), clock.now())


async def file_period_end(maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """File the last closed periods of every kind (see `file_period`)."""
    computed = 0
    for kind in tax.SUPPORTED:
        for period in tax.closed_periods(kind, now):
            computed += await file_period(maker, kind, period, now)
    return computed


async def file_period(
    maker: async_sessionmaker[AsyncSession], kind: FilingKind, period: str, now: datetime
) -> int:
    """File one closed period for every taxpayer that has something to file and no filing yet,
    `tax.CHUNK` taxpayers per transaction: memory stays bounded by the chunks in flight, a crash
    loses at most those (a rerun picks them up), racing workers wait on the locks. Two chunks
    are in flight, so one is computed in Python while PostgreSQL reads the other. Returns the
    number of filings."""
    async with maker() as session:
        taxpayers = await tax.taxpayers_to_file(session, kind, period)
    chunks = iter(
        [taxpayers[first : first + tax.CHUNK] for first in range(0, len(taxpayers), tax.CHUNK)]
    )

    async def file_chunks() -> int:
        computed = 0
        for chunk in chunks:  # shared: each chunk is taken by one of the two
            async with maker() as session, session.begin():
                filings = await tax.compute_filings(session, chunk, kind, period, now=now)
            computed += sum(filing is not None for filing in filings.values())
        return computed

    return sum(await asyncio.gather(file_chunks(), file_chunks()))


# --- webhooks -----------------------------------------------------------------------------


@subscribe("*")
async def queue_webhook_deliveries(event: OutboxEvent) -> None:
    """Queue the event for the endpoints subscribed to it (once per endpoint, however often the
    relay runs it), then have them sent."""
    async with sessionmaker()() as session, session.begin():
        queued = await webhooks.queue_deliveries(session, event, clock.now())
    if queued:
        # A run already queued takes these too.
        with contextlib.suppress(AlreadyEnqueued):
            await deliver_webhooks.configure(queueing_lock="deliver_webhooks").defer_async(
                timestamp=0
            )


@worker_app.periodic(cron="* * * * *", periodic_id="deliver_webhooks")
@worker_app.task(name="deliver_webhooks", queue="webhooks", queueing_lock="deliver_webhooks")
async def deliver_webhooks(timestamp: int) -> int:
    """Send the due webhook deliveries (every minute, and when events are queued)."""
    async with webhook_client() as http:
        return await send_due_webhooks(sessionmaker(), http, clock)


def webhook_client() -> httpx.AsyncClient:
    """The client deliveries are sent with: a receiver gets ten seconds to answer."""
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0))


async def send_due_webhooks(
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    batch_size: int = 50,
) -> int:
    """Lease due deliveries in a short transaction, send them concurrently outside it, and
    record each attempt in its own; repeat until none is due. Returns the attempts made.
    Signatures carry the wall time, which receivers check against their own clocks."""
    attempts = 0
    while True:
        async with maker() as session, session.begin():
            leased = await webhooks.lease_due(session, clock.now(), limit=batch_size)
        if not leased:
            return attempts
        outcomes = await asyncio.gather(
            *(webhooks.send(http, item, timestamp=int(clock.wall().timestamp())) for item in leased)
        )
        for item, outcome in zip(leased, outcomes, strict=True):
            async with maker() as session, session.begin():
                await webhooks.record_attempt(session, item.delivery_id, outcome, clock.now())
        attempts += len(leased)


# --- search -------------------------------------------------------------------------------


@subscribe("listing.published")
@subscribe("listing.withdrawn")
@subscribe("listing.closed")
@subscribe("auction.created")
@subscribe("auction.opened")
@subscribe("auction.settled")
@subscribe("auction.failed")
@subscribe("auction.cancelled")
async def sync_search_index(event: OutboxEvent) -> None:
    """Bring the listing's search document up to date (index or delete). Raising leaves the
    event to be relayed again, so the index catches up after an outage."""
    listing_id = uuid.UUID(event.payload["listing_id"])
    async with sessionmaker()() as session:
        await sync_listings(session, search_backend(), [listing_id])


@subscribe("listing.published")
async def tell_saved_searches(event: OutboxEvent) -> None:
    """Record `saved_search.matched` for the saved searches, and `demand.matched` for the open
    demands, a newly published listing matches. Runs once per relay of the event; a replay may
    tell twice (at-least-once)."""
    listing_id = uuid.UUID(event.payload["listing_id"])
    async with sessionmaker()() as session, session.begin():
        documents = await documents_for(session, [listing_id])
        for document in documents:
            await demands.notify_saved_searches(session, document)
            await demands.notify_matching_demands(session, document)

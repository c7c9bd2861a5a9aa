"""The auctions' jobs: each auction opens, closes and settles as its times come (a job waits
for its next time), and a sweep every minute advances any whose job was lost."""

from __future__ import annotations

import uuid
from datetime import datetime

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions import closing as auctions
from app.core.config import get_settings
from app.core.jobs import clock, queue_of, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.payments.provider import PaymentProvider
from app.payments.providers import provider_for

jobs = procrastinate.Blueprint()
subscribers = Subscribers()
logger = structlog.get_logger(__name__)


@jobs.task(name="advance_auction", queue="auctions", retry=5)
async def advance_auction(auction_id: str) -> str | None:
    """Open, close and settle one auction as its times come, then come back at the next one
    (the end is re-read each time: anti-sniping may have moved it)."""
    next_at = await advance(
        sessionmaker(), provider_for(get_settings()), uuid.UUID(auction_id), clock.now()
    )
    if next_at is not None:
        await schedule_auction(auction_id, next_at)
    return next_at.isoformat() if next_at else None


@jobs.periodic(cron="* * * * *", periodic_id="sweep_auctions")
@jobs.task(name="sweep_auctions", queue="auctions", queueing_lock="sweep_auctions")
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
        manager = queue_of(advance_auction).job_manager
        for job in await manager.list_jobs_async(queueing_lock=lock, status="todo"):
            if job.id is not None:
                await manager.cancel_job_by_id_async(job.id, delete_job=True)
    try:
        await advance_auction.configure(schedule_at=at, queueing_lock=lock).defer_async(
            auction_id=auction_id
        )
    except AlreadyEnqueued:
        # One job waits already (another relay of the event put it there); it re-reads the
        # times when it runs.
        logger.info("auction_already_scheduled", auction_id=auction_id)


@subscribers.on("auction.created")
async def schedule_auction_start(event: OutboxEvent) -> None:
    """Look at the auction when it starts."""
    await schedule_auction(
        event.payload["auction_id"], datetime.fromisoformat(event.payload["starts_at"])
    )


@subscribers.on("auction.rescheduled")
async def move_auction_start(event: OutboxEvent) -> None:
    """Look at the auction at its new start, not the old one."""
    await schedule_auction(
        event.payload["auction_id"],
        datetime.fromisoformat(event.payload["starts_at"]),
        moved=True,
    )

"""The listings' jobs: each publication window closes when it ends (公示期届满), scheduled at
publication and swept every five minutes in case a scheduled close was lost or late."""

from __future__ import annotations

import uuid
from datetime import datetime

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.jobs import clock, each_in_its_own_transaction, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.listings import service as listings

jobs = procrastinate.Blueprint()
subscribers = Subscribers()
logger = structlog.get_logger(__name__)


@jobs.task(name="close_publication_window", queue="listings", retry=5)
async def close_publication_window(listing_id: str) -> str | None:
    """Close one listing's publication window when it ends (scheduled at publication)."""
    async with sessionmaker()() as session, session.begin():
        outcome = await listings.close_publication_window(
            session, uuid.UUID(listing_id), now=clock.now()
        )
    return outcome.value if outcome else None


@jobs.periodic(cron="*/5 * * * *", periodic_id="sweep_publication_windows")
@jobs.task(name="sweep_publication_windows", queue="listings", queueing_lock="sweep_windows")
async def sweep_publication_windows(timestamp: int) -> int:
    """Close every window that has ended, in case a scheduled close was lost or late."""
    return await close_due_windows(sessionmaker(), clock.now())


async def close_due_windows(maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Close the due windows, one transaction each."""
    return await each_in_its_own_transaction(
        maker,
        lambda session: listings.due_listings(session, now),
        lambda session, listing_id: listings.close_publication_window(session, listing_id, now=now),
    )


@subscribers.on("listing.published")
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

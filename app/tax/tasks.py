"""The tax jobs: filings (减免税备案) follow the deals they count, and each period is filed the
day after it closes for every taxpayer with something in it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.jobs import clock, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.deals import queries as deals
from app.tax import periods as tax_periods
from app.tax import service as tax
from app.tax.models import FilingKind

jobs = procrastinate.Blueprint()
subscribers = Subscribers()


@subscribers.on(
    "payment.received",
    "payment.refunded",
    "contract.registered",
    "contract.registration_changed",
    "inventor_rewards.recorded",
)
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


@jobs.periodic(cron="5 0 * * *", periodic_id="file_closed_periods")
@jobs.task(name="file_closed_periods", queue="tax", queueing_lock="file_closed_periods")
async def file_closed_periods(timestamp: int) -> int:
    """Daily: file the last closed period of every kind for each taxpayer that has something to
    file in it (idempotent: taxpayers already filed are kept current by the events)."""
    return await file_period_end(sessionmaker(), clock.now())


async def file_period_end(maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """File the last closed periods of every kind (see `file_period`)."""
    computed = 0
    for kind in tax_periods.SUPPORTED:
        for period in tax_periods.closed_periods(kind, now):
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

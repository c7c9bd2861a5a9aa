"""A worker killed mid-job: the job is put back once its worker stops beating, and on restart
it finishes once — every filing there exactly once, no event twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import BEIJING
from app.core.db import libpq_url
from app.core.outbox import OutboxEvent
from app.core.tasks import requeue_stalled_jobs
from app.tax.models import Filing
from app.tax.tasks import file_closed_periods
from bench.tax_filings import SETUP
from workers.app import worker_app

CONTRACTS, TAXPAYERS = 30_000, 6_000
ROOT = Path(__file__).resolve().parents[2]


def _worker(database_url: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--concurrency", "1"],
        env=environment,
        cwd=ROOT,
    )


async def _filings(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Filing)) or 0)


FIRST_JOB = (
    "SELECT status FROM procrastinate_jobs WHERE task_name = 'tax:file_closed_periods'"
    " ORDER BY id LIMIT 1"
)
LAST_JOB = (
    "SELECT status FROM procrastinate_jobs WHERE task_name = 'tax:file_closed_periods'"
    " ORDER BY id DESC LIMIT 1"
)


async def _job_status(database_url: str, *, last: bool = False) -> str | None:
    """The status of the first filing job (the one killed), or of the last (its rerun or its
    twin)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        return await connection.fetchval(LAST_JOB if last else FIRST_JOB)
    finally:
        await connection.close()


@pytest.mark.parametrize("twin", [False, True], ids=["requeued", "twin_waiting"])
async def test_a_job_killed_with_its_worker_finishes_once_on_restart(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], twin: bool
) -> None:
    """Killed mid-job, the daily filing is put back and finishes once — or, when the periodic
    deferrer has queued its next run meanwhile (from 00:05 UTC, under the same queueing lock),
    that twin finishes it and the dead job is closed."""
    # The worker runs on the system clock: the contracts are paid in the last closed year.
    year = datetime.now(BEIJING).year - 1
    connection = await asyncpg.connect(libpq_url(database_url))
    for statement in SETUP:
        await connection.execute(
            statement.format(
                contracts=CONTRACTS, taxpayers=TAXPAYERS, buyers=TAXPAYERS // 2, year=year
            )
        )
    await connection.close()
    # Who has something to file for that year: sellers of transfers and licences (income tax),
    # buyers of development (super-deduction).
    connection = await asyncpg.connect(libpq_url(database_url))
    expected = await connection.fetchval(
        """
        SELECT count(DISTINCT (CASE WHEN v.contract_type = 'development'
                                    THEN 'rd:' || d.buyer_organization_id
                                    ELSE 'eit:' || d.seller_organization_id END))
        FROM deals d JOIN contracts c ON c.deal_id = d.id
        JOIN contract_versions v ON v.contract_id = c.id AND v.number = c.effective_version
        WHERE v.contract_type IN ('transfer', 'licence', 'development')
        """
    )
    await connection.close()
    async with worker_app.open_async():
        await file_closed_periods.defer_async(timestamp=0)

    first = _worker(database_url)
    try:
        for _ in range(600):  # until a chunk has committed, and more are to come
            if 0 < await _filings(sessionmaker) < expected:
                break
            await asyncio.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    filed_at_crash = await _filings(sessionmaker)
    stuck = await _job_status(database_url)

    await asyncio.sleep(3)
    async with worker_app.open_async():
        if twin:
            # The periodic deferrer may have queued it already (a worker started after 00:05).
            with contextlib.suppress(AlreadyEnqueued):
                await file_closed_periods.defer_async(timestamp=1)
        requeued = await requeue_stalled_jobs(worker_app, seconds_since_heartbeat=2)
    second = _worker(database_url)
    try:
        for _ in range(600):
            if await _job_status(database_url, last=True) == "succeeded":
                break
            await asyncio.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    async with sessionmaker() as session:
        duplicates = (
            await session.execute(
                select(Filing.taxpayer_organization_id, Filing.kind, Filing.period)
                .group_by(Filing.taxpayer_organization_id, Filing.kind, Filing.period)
                .having(func.count() > 1)
            )
        ).all()
        events = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == "filing.ready")
        )
    assert 0 < filed_at_crash < expected  # killed mid-job
    assert stuck == "doing"
    assert requeued == 1
    assert await _job_status(database_url, last=True) == "succeeded"
    if twin:
        assert await _job_status(database_url) == "failed"  # closed: its twin did the work
    assert await _filings(sessionmaker) == expected
    assert duplicates == []
    assert events == expected

"""Jobs. Each is idempotent: it re-reads state and may safely run twice."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from workers.app import worker_app
from workers.relay import relay_pending


@cache
def _sessionmaker() -> async_sessionmaker[AsyncSession]:
    url = get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set for the worker")
    return create_sessionmaker(create_engine(url, pool_size=2))


@worker_app.periodic(cron="* * * * *", periodic_id="relay_outbox")
@worker_app.task(name="relay_outbox", queue="outbox", queueing_lock="relay_outbox")
async def relay_outbox(timestamp: int) -> int:
    """Relay committed outbox events to their subscribers (every minute, and on demand)."""
    return await relay_pending(_sessionmaker(), lambda: datetime.now(UTC))

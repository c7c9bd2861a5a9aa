"""The outbox relay: hands committed domain events to their subscribers, in order.

Subscribers must be idempotent (an event is delivered at least once: a crash after a
subscriber ran but before the event was marked published delivers it again). A failing
subscriber leaves its event unpublished with the error noted, to be tried on the next run,
without holding up the events behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.outbox import OutboxEvent, Subscribers

logger = structlog.get_logger(__name__)


async def relay_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: Callable[[], datetime],
    subscribers: Subscribers,
    *,
    batch_size: int = 100,
) -> int:
    """Deliver every unpublished event; returns how many were published.

    Rows are claimed with SKIP LOCKED, so several workers can relay at once without
    delivering the same event twice at the same time.
    """
    published = 0
    failed: set[int] = set()
    while True:
        async with sessionmaker() as session, session.begin():
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.position)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
            if failed:
                query = query.where(OutboxEvent.position.not_in(failed))
            events = list((await session.scalars(query)).all())
            if not events:
                return published
            for event in events:
                try:
                    for subscriber in subscribers.of(event.topic):
                        await subscriber(event)
                except Exception as error:  # noqa: BLE001 - recorded and retried, never hidden
                    event.attempts += 1
                    event.last_error = f"{type(error).__name__}: {error}"[:2000]
                    failed.add(event.position)
                    logger.warning(
                        "outbox_delivery_failed",
                        event_id=str(event.id),
                        topic=event.topic,
                        error=event.last_error,
                    )
                    continue
                event.published_at = now()
                published += 1

"""The outbox relay: hands committed domain events to their subscribers, in order.

Subscribers must be idempotent (an event is delivered at least once: a crash after a
subscriber ran but before the event was marked published delivers it again). A failing
subscriber leaves its event unpublished with the error noted, to be tried on the next run,
without holding up the events behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.outbox import OutboxEvent

Subscriber = Callable[[OutboxEvent], Awaitable[None]]
SUBSCRIBERS: dict[str, list[Subscriber]] = {}
"""topic → subscribers; the topic "*" receives every event."""

logger = structlog.get_logger(__name__)


def subscribe(topic: str) -> Callable[[Subscriber], Subscriber]:
    def register(subscriber: Subscriber) -> Subscriber:
        SUBSCRIBERS.setdefault(topic, []).append(subscriber)
        return subscriber

    return register


async def relay_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: Callable[[], datetime],
    *,
    batch_size: int = 100,
) -> int:
    """Deliver every unpublished event; returns how many were published.

    Rows are claimed with SKIP LOCKED, so several workers can relay at once without
    delivering the same event twice at the same time.
    """
    # The subscribers are declared with the jobs; make sure they are registered.
    import workers.tasks  # noqa: F401

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
                    for subscriber in SUBSCRIBERS.get(event.topic, []) + SUBSCRIBERS.get("*", []):
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


@subscribe("*")
async def log_event(event: OutboxEvent) -> None:
    logger.info("domain_event", event_id=str(event.id), topic=event.topic)

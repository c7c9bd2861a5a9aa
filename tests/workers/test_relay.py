"""The outbox relay delivers committed events in order, once each, and survives failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import FrozenClock
from app.core.outbox import OutboxEvent, Subscribers, record_event
from workers import relay

_seen: list[str] = []
SUBSCRIBERS = Subscribers()


@SUBSCRIBERS.on("test.event")
async def collect(event: OutboxEvent) -> None:
    if event.payload.get("fail"):
        raise RuntimeError("subscriber is down")
    _seen.append(event.payload["n"])


@pytest.fixture
def delivered() -> Iterator[list[str]]:
    _seen.clear()
    yield _seen
    _seen.clear()


async def _add(
    sessionmaker: async_sessionmaker[AsyncSession], *payloads: dict[str, object]
) -> None:
    async with sessionmaker() as session, session.begin():
        for payload in payloads:
            await record_event(session, "test.event", payload)


async def test_events_are_delivered_in_order_and_marked(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock, delivered: list[str]
) -> None:
    await _add(sessionmaker, *({"n": str(n)} for n in range(250)))

    published = await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS, batch_size=100)
    again = await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS)

    assert published == 250
    assert again == 0
    assert delivered == [str(n) for n in range(250)]


async def test_a_failing_event_is_kept_for_retry_without_blocking_others(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock, delivered: list[str]
) -> None:
    await _add(sessionmaker, {"n": "1"}, {"n": "2", "fail": True}, {"n": "3"})

    published = await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS)

    assert published == 2
    assert delivered == ["1", "3"]
    async with sessionmaker() as session:
        failed = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.published_at.is_(None)))
        ).one()
    assert failed.attempts == 1
    assert failed.last_error == "RuntimeError: subscriber is down"


async def test_rolled_back_events_are_never_relayed(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock, delivered: list[str]
) -> None:
    async with sessionmaker() as session, session.begin():
        await record_event(session, "test.event", {"n": "ghost"})
        await session.flush()
        await session.rollback()

    assert await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS) == 0
    assert delivered == []

"""The transactional outbox: domain events written in the same transaction as the change.

A service calls `record_event(session, "organization.verified", {...})`; the event commits or
rolls back with the change it describes. The worker relays committed events (search index,
webhooks, jobs) and marks them published, so nothing is announced that did not happen and
nothing that happened goes unannounced.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core import audit
from app.core.db import Base, clock_of


class OutboxEvent(Base):
    """A domain event waiting to be relayed, or relayed already (published_at set)."""

    __tablename__ = "outbox"

    # A sequence gives the relay a commit-independent order to read events in.
    position: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None]

    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


async def record_event(
    session: AsyncSession,
    topic: str,
    payload: dict[str, Any],
    *,
    before: Mapping[str, Any] | None = None,
) -> uuid.UUID:
    """Add an event to the outbox in the caller's transaction; returns its stable id. `before`
    (the changed fields' previous values) goes to the audit trail only: subscribers and
    webhooks get the event as it is after the change."""
    event = OutboxEvent(id=uuid.uuid4(), topic=topic, payload=payload)
    session.add(event)
    audit.record(session, topic, payload, before)
    return event.id


_INSERT_EVENTS = text(
    """
    INSERT INTO outbox (id, topic, payload, created_at, attempts)
    SELECT CAST(event.id AS uuid), :topic, event.payload, :now, 0
    FROM ROWS FROM (jsonb_to_recordset(:events) AS (id text, payload jsonb))
        WITH ORDINALITY AS event(id, payload, position)
    ORDER BY event.position
    """
).bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("events", type_=JSONB))


async def record_events(
    session: AsyncSession, topic: str, payloads: Sequence[dict[str, Any]]
) -> list[uuid.UUID]:
    """Add many events of one topic in one statement (a period's filings are thousands of
    them), in the order given and after every event recorded before; returns their ids. The
    same as `record_event` for each, audit trail included, without an object per event."""
    if not payloads:
        return []
    # Events recorded earlier in the transaction are still pending objects: they go first, so
    # the relay sees them in the order they happened.
    await session.flush()
    ids = [uuid.uuid4() for _ in payloads]
    await session.execute(
        _INSERT_EVENTS,
        {
            "topic": topic,
            "now": clock_of(session).now(),
            "events": [
                {"id": str(event_id), "payload": payload}
                for event_id, payload in zip(ids, payloads, strict=True)
            ],
        },
    )
    for payload in payloads:
        audit.record(session, topic, payload)
    return ids


Subscriber = Callable[[OutboxEvent], Awaitable[None]]
"""Something to do when an event is relayed: idempotent, since an event comes at least once."""


class Subscribers:
    """Outbox subscribers by topic, declared beside their package's jobs (`tasks.py`) and
    gathered by the worker's registry; the topic "*" receives every event."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[Subscriber]] = {}

    def on(self, *topics: str) -> Callable[[Subscriber], Subscriber]:
        """Declare the decorated function a subscriber to each of `topics`."""

        def declare(subscriber: Subscriber) -> Subscriber:
            for topic in topics:
                self._by_topic.setdefault(topic, []).append(subscriber)
            return subscriber

        return declare

    def of(self, topic: str) -> list[Subscriber]:
        """The subscribers an event of `topic` goes to, in the order they were declared."""
        return self._by_topic.get(topic, []) + self._by_topic.get("*", [])

    @classmethod
    def gathered(cls, *declared: Subscribers) -> Subscribers:
        """One registry of every package's subscribers, in the order given."""
        registry = cls()
        for subscribers in declared:
            for topic, found in subscribers._by_topic.items():
                registry._by_topic.setdefault(topic, []).extend(found)
        return registry


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many events wait to be relayed, and when the oldest of them was recorded (what an
    operator pages on when the worker falls behind)."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.published_at.is_(None)
            )
        )
    ).one()
    return int(count), oldest

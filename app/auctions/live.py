"""Live auction events for Server-Sent Events, fed by PostgreSQL LISTEN/NOTIFY.

Each API process keeps one connection listening on `auction_events`; a committed bid in any
process notifies them all with "<auction id>:<event number>". The notice only wakes the streams
of that auction: the events themselves are read from `auction_events` (the same query that
replays them after `Last-Event-ID`), so a stream never skips one, even when a notice is lost
while the listening connection reconnects — streams also look every few seconds on their own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog

from app.auctions.events import NOTIFY_CHANNEL
from app.core.db import libpq_url

logger = structlog.get_logger(__name__)


class LiveEvents:
    """The process's listener and the streams waiting on it, by auction."""

    def __init__(self, database_url: str) -> None:
        self.database_url = libpq_url(database_url)
        self._connection: asyncpg.Connection[Any] | None = None
        self._starting = asyncio.Lock()
        self._waiting: dict[uuid.UUID, set[asyncio.Event]] = {}

    async def _ensure_listening(self) -> None:
        async with self._starting:
            if self._connection is not None and not self._connection.is_closed():
                return
            try:
                self._connection = await asyncpg.connect(self.database_url)
                await self._connection.add_listener(NOTIFY_CHANNEL, self._on_notice)
            except (OSError, asyncpg.PostgresError) as error:
                # Streams still poll; the next subscriber tries to listen again.
                self._connection = None
                logger.warning("auction_listener_unavailable", error=str(error))

    def _on_notice(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        auction_id, _, _ = payload.partition(":")
        try:
            key = uuid.UUID(auction_id)
        except ValueError:
            return
        for wake in self._waiting.get(key, ()):
            wake.set()

    @asynccontextmanager
    async def subscribe(self, auction_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the auction may have new live events."""
        await self._ensure_listening()
        wake = asyncio.Event()
        self._waiting.setdefault(auction_id, set()).add(wake)
        try:
            yield wake
        finally:
            waiting = self._waiting.get(auction_id)
            if waiting is not None:
                waiting.discard(wake)
                if not waiting:
                    del self._waiting[auction_id]

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

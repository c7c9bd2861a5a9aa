"""Hearing PostgreSQL notices (LISTEN/NOTIFY) in an API process or a worker.

A notice is sent in the transaction that makes a change and delivered when it commits, to every
process listening — the way one process tells the others that something they keep in memory is
out of date (the sandbox clock, verified principals). A listening connection can drop; a
listener therefore re-reads on every (re)connection (`on_connect`), which covers the notices
sent while it was away, reconnects within a few seconds, and may re-read on that beat too
(`every`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from app.core.db import libpq_url

logger = structlog.get_logger(__name__)

CHECK_SECONDS = 5.0

Connected = Callable[["asyncpg.Connection[Any]"], Awaitable[None]]


class NoticeListener:
    """LISTENs on `channel` while started: each notice's payload goes to `on_notice`; after
    each (re)connection `on_connect` runs with the connection, `on_lost` when it drops, and
    `every` every `check_seconds` while it is up."""

    def __init__(
        self,
        database_url: str,
        channel: str,
        on_notice: Callable[[str], None],
        *,
        on_connect: Connected | None = None,
        on_lost: Callable[[], None] | None = None,
        every: Connected | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.database_url = libpq_url(database_url)
        self.channel = channel
        self.on_notice = on_notice
        self.on_connect = on_connect
        self.on_lost = on_lost
        self.every = every
        self.check_seconds = check_seconds
        self._connection: asyncpg.Connection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """True while the connection is up: every notice sent now will be heard."""
        return self._connection is not None and not self._connection.is_closed()

    async def start(self) -> None:
        """Connect and listen (before the process serves), then keep checking."""
        await self._connect()
        self._task = asyncio.create_task(self._check())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _connect(self) -> None:
        try:
            connection = await asyncpg.connect(self.database_url)
            await connection.add_listener(self.channel, self._on_notice)
            connection.add_termination_listener(self._on_termination)
            if self.on_connect is not None:
                await self.on_connect(connection)
            self._connection = connection
        except (OSError, asyncpg.PostgresError) as error:
            self._lose()
            logger.warning("notice_listener_unavailable", channel=self.channel, error=str(error))

    def _on_notice(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.on_notice(payload)

    def _on_termination(self, connection: Any) -> None:
        self._lose()

    def _lose(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
        self._connection = None
        if self.on_lost is not None:
            self.on_lost()

    async def _check(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            if not self.listening:
                await self._connect()
                continue
            if self.every is None:
                continue
            assert self._connection is not None
            try:
                await self.every(self._connection)
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning(
                    "notice_listener_check_failed", channel=self.channel, error=str(error)
                )
                self._lose()

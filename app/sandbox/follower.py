"""Keeps a process's sandbox clock in step with the stored one.

Each API process and worker LISTENs on the clock's channel and takes every distance it hears;
it also re-reads the stored distance every few seconds, so a notice lost while the listening
connection reconnects costs at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from app.core.clock import SandboxClock
from app.core.db import libpq_url
from app.sandbox.service import CHANNEL

logger = structlog.get_logger(__name__)

REREAD_SECONDS = 5.0


class ClockFollower:
    """Follows the stored sandbox clock into `clock` while started."""

    def __init__(self, database_url: str, clock: SandboxClock) -> None:
        self.database_url = libpq_url(database_url)
        self.clock = clock
        self._connection: asyncpg.Connection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the stored distance and begin following it (before the process serves)."""
        await self._connect()
        self._task = asyncio.create_task(self._reread())

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
            self._connection = await asyncpg.connect(self.database_url)
            await self._connection.add_listener(CHANNEL, self._on_notice)
            await self._read()
        except (OSError, asyncpg.PostgresError) as error:
            self._connection = None
            logger.warning("sandbox_clock_listener_unavailable", error=str(error))

    async def _read(self) -> None:
        assert self._connection is not None
        stored = await self._connection.fetchval("SELECT ahead_by FROM sandbox_clock WHERE id = 1")
        if stored is not None:
            self.clock.follow(stored)

    def _on_notice(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.clock.follow(timedelta(microseconds=int(payload)))

    async def _reread(self) -> None:
        while True:
            await asyncio.sleep(REREAD_SECONDS)
            try:
                if self._connection is None or self._connection.is_closed():
                    await self._connect()
                else:
                    await self._read()
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning("sandbox_clock_reread_failed", error=str(error))
                if self._connection is not None:
                    self._connection.terminate()
                self._connection = None

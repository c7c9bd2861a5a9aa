"""Keeps a process's sandbox clock in step with the stored one.

Each API process and worker LISTENs on the clock's channel and takes every distance it hears;
it also re-reads the stored distance every few seconds, so a notice lost while the listening
connection reconnects costs at most that long.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from app.core.clock import SandboxClock
from app.core.notices import NoticeListener
from app.sandbox.service import CHANNEL


class ClockFollower:
    """Follows the stored sandbox clock into `clock` while started."""

    def __init__(self, database_url: str, clock: SandboxClock) -> None:
        self.clock = clock
        self.listener = NoticeListener(
            database_url, CHANNEL, self._on_notice, on_connect=self._read, every=self._read
        )

    async def start(self) -> None:
        """Read the stored distance and begin following it (before the process serves)."""
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()

    async def _read(self, connection: Any) -> None:
        stored = await connection.fetchval("SELECT ahead_by FROM sandbox_clock WHERE id = 1")
        if stored is not None:
            self.clock.follow(stored)

    def _on_notice(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.clock.follow(timedelta(microseconds=int(payload)))

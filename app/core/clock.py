"""The one clock: every rule and record takes `now` from it, in API processes and jobs alike.

Production reads the system time (`SystemClock`); tests stand time still and move it
(`FrozenClock`); a sandbox deployment runs on the system time moved ahead by however far its
operators have advanced the platform (`SandboxClock`, stored and shared by `app/sandbox`).
Nothing else in the code may read the time: a test reads the code to keep it so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

BEIJING = ZoneInfo("Asia/Shanghai")
"""Where legal days and periods are counted (publication windows, tax periods, reward years)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant on the platform, timezone-aware UTC."""
        ...

    def wall(self) -> datetime:
        """The instant other machines' clocks show now. It dates what is measured against
        them or against real time: signature timestamps (receivers check them with their own
        clocks), and the lifetimes of credentials and retries — access and refresh tokens, API
        key expiry, Idempotency-Keys, rate-limit windows — which a moved sandbox clock must not
        cut short or stretch. The same as `now()` except in a sandbox moved ahead."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wall(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def wall(self) -> datetime:
        # A test's world stands still as a whole: receivers check against the same time.
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant


class SandboxClock:
    """The platform clock of a sandbox deployment (SANDBOX=true): the system time plus how far
    the platform has been moved ahead (`POST /v1/sandbox/clock`), as Stripe's test clocks are
    for its users. The distance only grows, so the clock only moves forward; `app/sandbox` keeps
    it in PostgreSQL and tells every process when it changes."""

    def __init__(self, ahead_by: timedelta = timedelta(0)) -> None:
        self._ahead_by = ahead_by

    @property
    def ahead_by(self) -> timedelta:
        """How far the platform's time is ahead of the system's."""
        return self._ahead_by

    def now(self) -> datetime:
        return datetime.now(UTC) + self._ahead_by

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def ahead_by_at(self, instant: datetime) -> timedelta:
        """The distance that makes `now()` read `instant` at this moment."""
        return instant - datetime.now(UTC)

    def follow(self, ahead_by: timedelta) -> None:
        """Take a distance another process stored; never one that would move time back."""
        if ahead_by > self._ahead_by:
            self._ahead_by = ahead_by


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


Now = Annotated[datetime, Depends(_now)]
"""The request's `now`, from the application's clock."""


def _wall(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.wall()


Wall = Annotated[datetime, Depends(_wall)]
"""The request's wall time (`Clock.wall`): what credentials' lifetimes are measured in."""

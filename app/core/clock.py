"""The one clock: every rule and record takes `now` from it, in API processes and jobs alike.

Production reads the system time (`SystemClock`); tests stand time still and move it
(`FrozenClock`); a sandbox deployment runs on the system time moved ahead by however far its
operators have advanced the platform (`SandboxClock`, stored and shared by `app/sandbox`).
Nothing else in the code may read the time: a test reads the code to keep it so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, Date, cast, func

BEIJING = ZoneInfo("Asia/Shanghai")
"""Where legal days and periods are counted (publication windows, tax periods, reward years).
Everything that takes a year, month or day from an instant does it through the functions
below — a test reads the code to keep it so — because the UTC date is the wrong one for eight
hours of every day: 2027-01-01 00:26 in Beijing is still 2026 in UTC."""


def beijing_date(instant: datetime) -> date:
    """The Beijing calendar day of an instant."""
    return instant.astimezone(BEIJING).date()


def beijing_time(instant: datetime) -> datetime:
    """An instant as Beijing wall-clock time (to print, or to read its year and month)."""
    return instant.astimezone(BEIJING)


def month_start(year: int, month: int) -> datetime:
    """00:00 Beijing on the first of a month; month 13 is January of the next year."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=BEIJING)


def next_month_start(instant: datetime) -> datetime:
    """The first Beijing midnight starting a month after `instant`."""
    local = beijing_time(instant)
    return month_start(local.year, local.month + 1)


def day_start(day: date) -> datetime:
    """00:00 Beijing of a calendar day, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=BEIJING).astimezone(UTC)


def period_end(start: datetime, days: int) -> datetime:
    """When a period of `days` days from an event at `start` ends (UTC): the day of the event
    is not counted and the last day runs to 24:00, Beijing time (民法典 第二百零一条、第二百零三条).
    Published any time on 1 March with 15 days, a window closes at the end of 16 March."""
    if start.tzinfo is None:
        raise ValueError("the start must be timezone-aware")
    return day_start(beijing_date(start) + timedelta(days=days + 1))


def beijing_month_text(column: Any) -> ColumnElement[str]:
    """`YYYY-MM` of a timestamp column in Beijing time, in SQL."""
    return func.to_char(func.timezone(BEIJING.key, column), "YYYY-MM")


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


async def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


Now = Annotated[datetime, Depends(_now)]
"""The request's `now`, from the application's clock."""


async def _wall(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.wall()


Wall = Annotated[datetime, Depends(_wall)]
"""The request's wall time (`Clock.wall`): what credentials' lifetimes are measured in."""


def beijing_day(column: Any) -> ColumnElement[date]:
    """The Beijing calendar day of a timestamp column, in SQL (`beijing_date` of each row)."""
    return cast(func.timezone(BEIJING.key, column), Date)

"""The procrastinate application: a PostgreSQL-backed job queue shared by every worker host."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import procrastinate
import psycopg_pool
from procrastinate.exceptions import AppNotOpen

from app.core.clock import Clock, SystemClock
from app.core.config import get_settings
from app.core.db import libpq_url

_database_url: str | None = None
_clock: Clock = SystemClock()


def use_database(url: str) -> None:
    """Point the job queue and the jobs at `url` (the embedded database, a test database);
    otherwise they use DATABASE_URL."""
    global _database_url
    _database_url = url


def use_clock(installed: Clock) -> None:
    """Give the jobs and subscribers of this process the platform clock: the sandbox clock, the
    API's own when the worker runs inside it, or a test's frozen one (system time until then)."""
    global _clock
    _clock = installed


@contextmanager
def using_clock(installed: Clock) -> Iterator[None]:
    """`use_clock` for a while (the demo's history on its own clock), then the one before."""
    before = _clock
    use_clock(installed)
    try:
        yield
    finally:
        use_clock(before)


class _JobClock:
    """The clock jobs read: always the one `use_clock` installed last."""

    def now(self) -> datetime:
        return _clock.now()

    def wall(self) -> datetime:
        return _clock.wall()


clock: Clock = _JobClock()
"""Where every job, subscriber and worker session takes `now` from."""


def database_url() -> str:
    url = _database_url or get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set for the job queue")
    return url


def _pool(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    # Resolved when the app is opened, so a URL known only at start-up is the one used.
    return psycopg_pool.AsyncConnectionPool(
        conninfo=libpq_url(database_url()), min_size=1, max_size=4, **options
    )


_connector = procrastinate.PsycopgConnector(pool_factory=_pool)
worker_app = procrastinate.App(connector=_connector, import_paths=["workers.tasks"])


def queue_is_open() -> bool:
    """Whether this process has the job queue open (it runs a worker, or opened it to defer)."""
    try:
        _connector.pool  # noqa: B018 - the property raises when the queue is not open
    except AppNotOpen:
        return False
    return True

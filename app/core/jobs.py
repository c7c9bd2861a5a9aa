"""What every package's jobs and outbox subscribers share (their `tasks.py`): the platform
clock of this process, the database the queue and the jobs use, and sessions on one small pool
per database. The procrastinate app itself, and which package's tasks it runs, are the worker's
(`workers/app.py`, `workers/registry.py`); a package declares its jobs on a procrastinate
`Blueprint` and never imports the worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import Clock, SystemClock
from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker

_database_url: str | None = None
_clock: Clock = SystemClock()
_engines: dict[str, AsyncEngine] = {}
_resources: dict[tuple[str, str], Any] = {}

_Resource = TypeVar("_Resource")


def use_database(url: str) -> None:
    """Point the job queue and the jobs at `url` (the embedded database, a test database);
    otherwise they use DATABASE_URL."""
    global _database_url
    _database_url = url


def database_url() -> str:
    url = _database_url or get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set for the job queue")
    return url


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


def sessionmaker() -> async_sessionmaker[AsyncSession]:
    """Sessions for the jobs, on one small pool per database for the process."""
    url = database_url()
    if url not in _engines:
        _engines[url] = create_engine(url, pool_size=2)
    return create_sessionmaker(_engines[url], clock)


def per_database(name: str, make: Callable[[], _Resource]) -> _Resource:
    """The process's one `name` for the jobs' database (a search backend), made on first use
    like the engine: made per job, each would leave one more pool open."""
    key = (database_url(), name)
    if key not in _resources:
        _resources[key] = make()
    return _resources[key]  # type: ignore[no-any-return]


async def dispose_engines() -> None:
    """Close the jobs' pools: their connections belong to the event loop that opened them, so
    code that ran jobs in a loop of its own (the demo's history) closes them before it ends."""
    _resources.clear()
    while _engines:
        await _engines.popitem()[1].dispose()


def queue_of(task: procrastinate.tasks.Task[Any, Any, Any]) -> procrastinate.App:
    """The app a blueprint's task was registered with, whose job manager can withdraw jobs."""
    app = task.blueprint
    if not isinstance(app, procrastinate.App):
        raise RuntimeError(f"task {task.name} is not registered with the worker's app")
    return app


async def each_in_its_own_transaction(
    maker: async_sessionmaker[AsyncSession],
    due: Callable[[AsyncSession], Awaitable[Sequence[uuid.UUID]]],
    work: Callable[[AsyncSession, uuid.UUID], Awaitable[object]],
) -> int:
    """Find what came due in one short session, then do each in a transaction of its own, so
    one failure does not hold the rest. Returns how many did something (a truthy result)."""
    async with maker() as session:
        ids = await due(session)
    done = 0
    for row_id in ids:
        async with maker() as session, session.begin():
            done += bool(await work(session, row_id))
    return done


_JOB_COUNTS = text(
    "SELECT queue_name, task_name, status::text, count(*) FROM procrastinate_jobs"
    " WHERE status IN ('todo', 'doing', 'failed') GROUP BY 1, 2, 3"
)


async def job_counts(session: AsyncSession) -> list[tuple[str, str, str, int]]:
    """Jobs waiting, running and failed, per queue and task (procrastinate's table, which the
    job queue keeps in our database)."""
    rows = await session.execute(_JOB_COUNTS)
    return [(queue, task, status, int(count)) for queue, task, status, count in rows]

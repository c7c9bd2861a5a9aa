"""The read path: the hottest reads (who am I, a listing) as single statements on a small
asyncpg pool of the process's own, outside the request's session.

Measured on this project's machine (wrk, 50 connections, one process): one primary-key read
through SQLAlchemy's async session answers ~900 requests/s, the same statement on an asyncpg
pool ~5,000 — the session's greenlet hand-offs, the pool's checkout and reset-on-return and ORM
loading cost four times the statement. The statements stay SQLAlchemy Core, compiled once
for asyncpg (`PreparedRead`), so they are written and checked like every other query, and
asyncpg prepares each once per connection.

Only single statements come here: under READ COMMITTED a transaction around one statement adds
two round trips and nothing else. Writes stay in the session, but for those that are whole
transactions in one statement: one that must not share the request's fate (an API key's last
use, `ReadPool.run`) and a bid, whose one statement is its whole change (`auctions/bidding.py`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Delete, Insert, Select, TextClause, Update, event, inspect
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import libpq_url

Model = TypeVar("Model")
T = TypeVar("T")
_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
POOL_SIZE = 10
IDLE_SECONDS = 60.0
"""A connection unused this long is closed (reopened on demand)."""


BROKEN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""What a connection that lost its server raises."""


_PARAMETER = re.compile(r"\$(\d+)(::[A-Z]+)?")
"""A parameter of asyncpg's SQL, with the cast SQLAlchemy gives it."""


class PreparedRead:
    """A SELECT compiled once for asyncpg: its SQL (`$1`, `$2` …) and the order of its
    parameters — the named ones (`bindparam("listing_id")`) given at each read, the values
    written into the statement (`state == "published"`) kept.

    Numbers written into the statement (`.limit(1)`, `coalesce(amount, 0)`) go into its SQL as
    literals, not parameters: a prepared statement is planned for its parameters on each of
    its first five runs, then PostgreSQL keeps one generic plan unless that looks dearer — and a
    `LIMIT $2` of unknown size always does, so the bid's read of the auction was planned anew
    on every bid (1 ms of planning for 0.13 ms of execution, measured with the plan cache in
    each mode)."""

    def __init__(
        self, statement: Select[*tuple[Any, ...]] | Insert | Update | Delete | TextClause
    ) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("expanding IN has no fixed SQL: compare with = ANY(array) instead")
        names = tuple(compiled.positiontup or ())
        literals: dict[int, int | bool] = {
            position: value
            for position, name in enumerate(names, start=1)
            if compiled.binds[name].unique
            and isinstance(value := compiled.binds[name].effective_value, int)
        }
        renumbered = {
            position: number
            for number, position in enumerate(
                (p for p in range(1, len(names) + 1) if p not in literals), start=1
            )
        }

        def rewritten(parameter: re.Match[str]) -> str:
            position, cast = int(parameter[1]), parameter[2] or ""
            if position in literals:
                value = literals[position]
                return f"{str(value).lower() if isinstance(value, bool) else int(value)}{cast}"
            return f"${renumbered[position]}{cast}"

        self.sql = _PARAMETER.sub(rewritten, sql)
        self.names = tuple(name for p, name in enumerate(names, start=1) if p not in literals)
        self.fixed = {
            name: compiled.binds[name].effective_value
            for name in self.names
            if compiled.binds[name].value is not None
        }

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        return [values[name] if name in values else self.fixed[name] for name in self.names]


class Transient(Generic[Model]):
    """Builds objects of `model` from a read's rows: its `columns` (all by default), named
    `prefix` + key in the row, enum columns given their members back (the read path returns
    their text). The objects are outside any session — views of what was read, never written by
    a flush.

    They are made the way the ORM makes the objects it loads (the mapper's `new_instance`, the
    values put in the instance's dictionary), not through the model's constructor, which sets
    each attribute through the instrumentation: a listing took ~30 µs that way, ~5 µs this way.
    What to read from a row is worked out once, when the builder is made."""

    def __init__(
        self, model: type[Model], *, prefix: str = "", columns: Iterable[Any] | None = None
    ) -> None:
        self._new_instance = inspect(model).class_manager.new_instance
        self._fields = tuple(
            (column.key, prefix + column.key, getattr(column.type, "enum_class", None))
            for column in (model.__table__.columns if columns is None else columns)  # type: ignore[attr-defined]
        )

    def __call__(self, row: Mapping[str, Any]) -> Model:
        instance: Model = self._new_instance()
        values = instance.__dict__
        for key, name, members in self._fields:
            value = row[name]
            values[key] = members(value) if members is not None and value is not None else value
        return instance


async def _prepare_connection(connection: asyncpg.Connection[Any]) -> None:
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(connection: asyncpg.Connection[Any]) -> None:
    """Nothing to reset when a connection comes back: the read path runs single statements
    and never changes its session (no SET, LISTEN, advisory lock or cursor). asyncpg's default
    reset (`RESET ALL`, `UNLISTEN *` …) is a round trip per read; a transaction left open is
    still rolled back by the pool before this runs."""


class ReadPool:
    """The process's read connections beside `engine`'s: opened at the first read, closed with
    the app, and ended when the engine is disposed of (the two live and die together)."""

    def __init__(self, engine: AsyncEngine, *, size: int = POOL_SIZE) -> None:
        self.database_url = libpq_url(engine.url.render_as_string(hide_password=False))
        self.size = size
        self._pool: asyncpg.Pool[Any] | None = None
        self._opening = asyncio.Lock()
        self._turns = asyncio.Semaphore(size)
        event.listen(engine.sync_engine, "engine_disposed", self._end)

    async def _connections(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.database_url,
                        min_size=0,
                        max_size=self.size,
                        max_inactive_connection_lifetime=IDLE_SECONDS,
                        init=_prepare_connection,
                        reset=_keep_session,
                    )
        return self._pool

    async def _on_connection(
        self, statement: Callable[[asyncpg.Connection[Any]], Awaitable[T]]
    ) -> T:
        """Run `statement` on a connection of the pool, taken in turn.

        Callers wait their turn in order (`_turns`, a fair semaphore as large as the pool):
        asyncpg's own queue lets a newcomer take a connection just handed back before the
        caller woken for it runs, and that caller queues again at the back — under load a few
        reads waited many turns (p99 four times p50)."""
        pool = self._pool or await self._connections()
        async with self._turns:
            connection = await pool.acquire()
            try:
                return await statement(connection)
            except BROKEN:
                # Lost mid-statement (PostgreSQL restarted, the socket dropped): never hand
                # this connection out again; the error answers as an outage (a 503).
                connection.terminate()
                raise
            finally:
                await pool.release(connection)

    async def one(self, read: PreparedRead, **values: object) -> asyncpg.Record | None:
        """The statement's first row, or None."""
        arguments = read.arguments(values)
        row: asyncpg.Record | None = await self._on_connection(
            lambda connection: connection.fetchrow(read.sql, *arguments)
        )
        return row

    async def all(self, read: PreparedRead, **values: object) -> list[asyncpg.Record]:
        arguments = read.arguments(values)
        rows: list[asyncpg.Record] = await self._on_connection(
            lambda connection: connection.fetch(read.sql, *arguments)
        )
        return rows

    async def run(self, statement: PreparedRead, **values: object) -> None:
        """Run a single-statement write of the read path, committed on its own (an API key's
        last use: recorded even when the request it authenticated fails)."""
        arguments = statement.arguments(values)
        await self._on_connection(lambda connection: connection.execute(statement.sql, *arguments))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _end(self, engine: Any) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


async def _read_pool(request: Request) -> ReadPool:
    pool: ReadPool = request.app.state.reads
    return pool


Reads = Annotated[ReadPool, Depends(_read_pool)]

"""The read path: the hottest reads (who am I, a listing) as single statements on a few
asyncpg connections of the process's own, outside the request's session.

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


class ReadPool:
    """The process's read connections beside `engine`'s: opened on demand, closed with the
    app, and ended when the engine is disposed of (the two live and die together).

    A free list of its own rather than asyncpg's pool: that pool's acquire and release — a
    timeout, a shielded task and a session reset around every statement — cost more than half
    of a primary-key read's Python time (measured under wrk on a listing read), and the read
    path needs none of it. It runs single statements and never changes a connection's session
    (no SET, LISTEN, advisory lock or cursor), so a connection is handed back as it is; one
    whose statement did not end with the server's answer (lost, cancelled) is never reused."""

    def __init__(
        self, engine: AsyncEngine, *, size: int = POOL_SIZE, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self.database_url = libpq_url(engine.url.render_as_string(hide_password=False))
        self.size = size
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[asyncpg.Connection[Any], float]] = []
        """Connections at rest, the most recently used last, with the loop time they came back."""
        self._turns = asyncio.Semaphore(size)
        self._sweep: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        event.listen(engine.sync_engine, "engine_disposed", self._end)

    async def _connect(self) -> asyncpg.Connection[Any]:
        connection: asyncpg.Connection[Any] = await asyncpg.connect(self.database_url)
        await _prepare_connection(connection)
        return connection

    async def _on_connection(
        self, statement: Callable[[asyncpg.Connection[Any]], Awaitable[T]]
    ) -> T:
        """Run `statement` on a connection at rest, or a new one: at most `size` at once.

        Callers wait their turn in order (`_turns`, a fair semaphore as large as the pool): a
        queue where a newcomer could take a connection just handed back before the caller
        woken for it runs made a few reads wait many turns under load (p99 four times p50)."""
        async with self._turns:
            connection = await self._take()
            try:
                result = await statement(connection)
            except asyncpg.PostgresError:
                # The server refused the statement and said so: the connection is as it was.
                self._rest(connection)
                raise
            except BaseException:
                # Lost mid-statement (PostgreSQL restarted, the socket dropped) or cancelled
                # before the answer came: never hand this connection out again. A lost one
                # answers as an outage (a 503).
                connection.terminate()
                raise
            self._rest(connection)
            return result

    async def _take(self) -> asyncpg.Connection[Any]:
        """The connection at rest used last (one the server closed meanwhile is dropped), or a
        new one."""
        while self._idle:
            connection, _ = self._idle.pop()
            if not connection.is_closed():
                return connection
        return await self._connect()

    def _rest(self, connection: asyncpg.Connection[Any]) -> None:
        loop = asyncio.get_running_loop()
        self._idle.append((connection, loop.time()))
        if self._sweep is None:
            self._sweep = loop.call_later(self.idle_seconds, self._close_idle)

    def _close_idle(self) -> None:
        """Close the connections at rest for `idle_seconds` (the least recently used first),
        and look again when the next of them will have been."""
        self._sweep = None
        if not self._idle:
            return
        loop = asyncio.get_running_loop()
        rested_before = loop.time() - self.idle_seconds
        while self._idle and self._idle[0][1] <= rested_before:
            connection, _ = self._idle.pop(0)
            closing = loop.create_task(connection.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        if self._idle:
            self._sweep = loop.call_at(self._idle[0][1] + self.idle_seconds, self._close_idle)

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
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await connection.close()

    def _end(self, engine: Any) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.terminate()


async def _read_pool(request: Request) -> ReadPool:
    pool: ReadPool = request.app.state.reads
    return pool


Reads = Annotated[ReadPool, Depends(_read_pool)]

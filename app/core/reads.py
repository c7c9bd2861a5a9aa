"""The read path: the hottest reads (who am I, a listing) as single statements on a small
asyncpg pool of the process's own, outside the request's session.

Measured on this project's machine (wrk, 50 connections, one process): one primary-key read
through SQLAlchemy's async session answers ~900 requests/s, the same statement on an asyncpg
pool ~5,000 — the session's greenlet hand-offs, the pool's checkout and reset-on-return and ORM
loading cost four times the statement. The statements stay SQLAlchemy Core, compiled once
for asyncpg (`PreparedRead`), so they are written and checked like every other query, and
asyncpg prepares each once per connection.

Only single statements come here: under READ COMMITTED a transaction around one statement adds
two round trips and nothing else. Writes stay in the session, but for one that must not share
the request's fate (an API key's last use, `ReadPool.run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Insert, Select, Update, event
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import libpq_url

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


class PreparedRead:
    """A SELECT compiled once for asyncpg: its SQL (`$1`, `$2` …) and the order of its
    parameters — the named ones (`bindparam("listing_id")`) given at each read, the values
    written into the statement (`state == "published"`) kept."""

    def __init__(self, statement: Select[*tuple[Any, ...]] | Insert | Update) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("expanding IN has no fixed SQL: compare with = ANY(array) instead")
        self.names = tuple(compiled.positiontup or ())
        self.fixed = {
            name: compiled.binds[name].effective_value
            for name in self.names
            if compiled.binds[name].value is not None
        }

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        return [values[name] if name in values else self.fixed[name] for name in self.names]


def transient(
    model: type[Any],
    row: Mapping[str, Any],
    *,
    prefix: str = "",
    columns: Iterable[Any] | None = None,
) -> Any:
    """An object of `model` from its `columns` (all by default) in a read's `row`, named
    `prefix` + key, outside any session: a view of what was read, never written by a flush.
    Enum columns get their members back (the read path returns their text)."""
    values = {}
    for column in model.__table__.columns if columns is None else columns:
        value = row[prefix + column.key]
        members = getattr(column.type, "enum_class", None)
        values[column.key] = members(value) if members is not None and value is not None else value
    return model(**values)


async def _prepare_connection(connection: asyncpg.Connection[Any]) -> None:
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class ReadPool:
    """The process's read connections beside `engine`'s: opened at the first read, closed with
    the app, and ended when the engine is disposed of (the two live and die together)."""

    def __init__(self, engine: AsyncEngine, *, size: int = POOL_SIZE) -> None:
        self.database_url = libpq_url(engine.url.render_as_string(hide_password=False))
        self.size = size
        self._pool: asyncpg.Pool[Any] | None = None
        self._opening = asyncio.Lock()
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
                    )
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection[Any]]:
        pool = await self._connections()
        async with pool.acquire() as connection:
            try:
                yield connection
            except BROKEN:
                # Lost mid-statement (PostgreSQL restarted, the socket dropped): never hand
                # this connection out again; the error answers as an outage (a 503).
                connection.terminate()
                raise

    async def one(self, read: PreparedRead, **values: object) -> asyncpg.Record | None:
        """The statement's first row, or None."""
        async with self._connection() as connection:
            row: asyncpg.Record | None = await connection.fetchrow(
                read.sql, *read.arguments(values)
            )
            return row

    async def all(self, read: PreparedRead, **values: object) -> list[asyncpg.Record]:
        async with self._connection() as connection:
            rows: list[asyncpg.Record] = await connection.fetch(read.sql, *read.arguments(values))
            return rows

    async def run(self, statement: PreparedRead, **values: object) -> None:
        """Run a single-statement write of the read path, committed on its own (an API key's
        last use: recorded even when the request it authenticated fails)."""
        async with self._connection() as connection:
            await connection.execute(statement.sql, *statement.arguments(values))

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

"""Database: the async engine, the declarative base, and one transaction per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Depends, Request
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Enum,
    MetaData,
    Select,
    SQLColumnExpression,
    Uuid,
    any_,
    bindparam,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm import Session as OrmSession

from app.core.clock import Clock
from app.core.errors import DomainError, NotFound

# Stable constraint names: migrations stay reviewable and errors can name the field.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


def pg_enum(enum_class: type[StrEnum], name: str) -> Enum:
    """A native PostgreSQL enum storing the members' values (not their names)."""
    return Enum(
        enum_class,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    """When a row was made and last changed: audit times, stamped from the session's clock
    (`create_sessionmaker`); the database defaults only serve rows written by hand."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


_Row = TypeVar("_Row")

ReadModel = Select[*tuple[Any, ...]]
"""A package's rows for another package to join and filter in SQL (never its tables)."""


def among(column: SQLColumnExpression[uuid.UUID], ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    """`column = ANY($1)`: membership in any number of ids through one array parameter, where
    an expanded `IN` would stop at asyncpg's 32,767 parameters and re-plan for each length."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(Uuid()), unique=True))


async def one_or_not_found(
    session: AsyncSession, query: Select[_Row], *, lock: bool = False
) -> _Row:
    """The one row `query` finds (its caller's visibility rule already in the WHERE), locked
    FOR UPDATE with `lock`. Raises NotFound: a row the caller may not see does not exist."""
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound()
    return row


def async_url(url: str) -> str:
    """The SQLAlchemy URL for asyncpg, whatever driver the configured URL names."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A plain libpq URL (for psycopg, procrastinate and psql)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout, and a connection found dead in use is
    # already answered as a 503 the client retries (errors.py), the pool dropping it.
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=pool_size)


def create_sessionmaker(
    engine: AsyncEngine, clock: Clock, **info: object
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose new rows get `created_at` (and changed `TimestampMixin` rows `updated_at`)
    from `clock`, the one clock: a row made in a test, a job or a moved sandbox carries the
    platform's time, never the database server's `now()`. `info` is what else the sessions'
    code may reach (the API process's `principals`, verified callers it keeps)."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"clock": clock, **info})


def clock_of(session: OrmSession | AsyncSession) -> Clock:
    """The clock a session stamps its rows with (`create_sessionmaker`)."""
    clock: Clock | None = session.info.get("clock")
    if clock is None:
        raise RuntimeError("this session has no clock: make it with create_sessionmaker()")
    return clock


@event.listens_for(OrmSession, "before_flush")
def _stamp_times(session: OrmSession, flush_context: Any, instances: Any) -> None:
    unstamped = [
        row
        for row in session.new
        if getattr(row, "created_at", False) is None
        or (isinstance(row, TimestampMixin) and row.updated_at is None)
    ]
    changed = [
        row
        for row in session.dirty
        if isinstance(row, TimestampMixin) and session.is_modified(row, include_collections=False)
    ]
    if not unstamped and not changed:
        return
    now = clock_of(session).now()
    for row in unstamped:
        if row.created_at is None:
            row.created_at = now
        if isinstance(row, TimestampMixin) and row.updated_at is None:
            row.updated_at = row.created_at
    for row in changed:
        row.updated_at = now


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit on success, roll back on error.

    Used with `scope="function"` so the commit happens before the response is sent: a
    failure to commit is the client's error response, not a lost write behind a 201.

    A session costs nothing until its first statement begins the transaction, and once it has
    committed or rolled back it holds no connection; so only a begun transaction is ended, and
    the session is not closed (closing an ended one only empties its identity map, which the
    garbage collector does as well) — a third of a light read's time.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = sessionmaker()
    try:
        yield session
    except DomainError as error:
        if session.in_transaction():
            if error.keep_changes:
                await session.commit()
            else:
                await session.rollback()
        raise
    except BaseException:
        if session.in_transaction():
            await session.rollback()
        raise
    else:
        if session.in_transaction():
            await session.commit()
    finally:
        if session.in_transaction():  # a commit or rollback that failed half-way
            await session.close()


Session = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker)]
"""The app's sessions, for a route whose changes are not one transaction of the request's
(a bid: each attempt its own statement, or its own transaction under the auction's lock)."""

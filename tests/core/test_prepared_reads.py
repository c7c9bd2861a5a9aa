"""The read path's statements (`app/core/reads.py`): numbers written into a statement are part
of its SQL, so PostgreSQL can keep one generic plan for it; what a read names stays a
parameter, in order."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import bindparam, column, func, literal, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auctions.queries import _STANDING
from app.core.reads import PreparedRead, ReadPool

things = table("things", column("id"), column("amount"), column("name"))


def test_numbers_written_into_a_statement_are_literals_and_named_values_parameters() -> None:
    read = PreparedRead(
        select(things.c.id, func.coalesce(things.c.amount, 0))
        .where(things.c.name == bindparam("name"), things.c.id == bindparam("id"))
        .limit(1)
    )

    assert read.sql.count("$") == 2
    assert "coalesce(things.amount, 0::INTEGER)" in read.sql
    assert "LIMIT 1::INTEGER" in read.sql
    assert "things.name = $1" in read.sql
    assert "things.id = $2" in read.sql
    assert read.arguments({"id": 7, "name": "x"}) == ["x", 7]


def test_a_limit_the_caller_names_stays_a_parameter() -> None:
    read = PreparedRead(select(things.c.id).limit(bindparam("limit")))

    assert read.sql.rstrip().endswith("LIMIT $1")
    assert read.arguments({"limit": 5}) == [5]


async def test_the_bids_read_keeps_a_generic_plan(app: object, client: httpx.AsyncClient) -> None:
    """After the five runs PostgreSQL plans a prepared statement for, it keeps the generic plan
    (auto mode): no planning per bid."""
    reads: ReadPool = app.state.reads  # type: ignore[attr-defined]

    async def plan_kinds() -> list[str]:
        async def run(connection: object) -> list[str]:
            statement = await connection.prepare(_STANDING.sql)  # type: ignore[attr-defined]
            for _ in range(7):
                await statement.fetchrow(uuid.uuid4(), "user:x", "key", uuid.uuid4())
            rows = await connection.fetch(  # type: ignore[attr-defined]
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement = $1",
                _STANDING.sql,
            )
            return [f"{row['generic_plans']}/{row['custom_plans']}" for row in rows]

        return await reads._on_connection(run)  # type: ignore[arg-type]

    [counts] = await plan_kinds()
    generic, custom = map(int, counts.split("/"))
    assert generic >= 2
    assert custom <= 5


BACKEND = PreparedRead(select(func.pg_backend_pid()))


async def _backend(pool: ReadPool) -> int:
    row = await pool.one(BACKEND)
    assert row is not None
    return int(row[0])


async def test_a_connection_is_reused_after_a_statement_the_server_refused(
    engine: AsyncEngine,
) -> None:
    pool = ReadPool(engine, size=1)
    try:
        first = await _backend(pool)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await pool.one(PreparedRead(select(literal(1) / bindparam("zero"))), zero=0)
        assert await _backend(pool) == first
    finally:
        await pool.close()


async def test_a_connection_whose_statement_was_cancelled_is_not_reused(
    engine: AsyncEngine,
) -> None:
    """Cancelled before the answer came (a client gone), the connection may still be busy with
    the statement: the next read gets another."""
    pool = ReadPool(engine, size=1)
    try:
        first = await _backend(pool)
        sleeping = asyncio.create_task(
            pool.one(PreparedRead(select(func.pg_sleep(bindparam("seconds")))), seconds=5.0)
        )
        await asyncio.sleep(0.1)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        assert await _backend(pool) != first
    finally:
        await pool.close()


async def test_a_connection_at_rest_past_the_idle_time_is_closed(engine: AsyncEngine) -> None:
    pool = ReadPool(engine, size=1, idle_seconds=0.0)
    try:
        first = await _backend(pool)
        for _ in range(100):  # the sweep runs on the loop's next turns
            await asyncio.sleep(0)
        assert await _backend(pool) != first
    finally:
        await pool.close()

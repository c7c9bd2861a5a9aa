"""The read path's statements (`app/core/reads.py`): numbers written into a statement are part
of its SQL, so PostgreSQL can keep one generic plan for it; what a read names stays a
parameter, in order."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import bindparam, column, func, select, table

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

"""One transaction per request: committed before the answer, rolled back on error."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization, OrganizationKind, User
from app.core.db import Session
from app.core.errors import Conflict
from app.core.outbox import OutboxEvent, record_event
from tests.factories import Factory


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_failed_request_leaves_nothing_behind(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    @app.post("/test/fail-after-write")
    async def fail_after_write(session: Session) -> None:
        await record_event(session, "test.event", {})
        await session.flush()
        raise Conflict()

    response = await client.post("/test/fail-after-write")

    assert response.status_code == 409
    assert await _count(sessionmaker, OutboxEvent) == 0


async def test_a_commit_failure_is_the_answer_not_a_lost_write(
    app: FastAPI,
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    existing = await factory.organization()

    @app.post("/test/duplicate-on-commit")
    async def duplicate_on_commit(session: Session) -> dict[str, str]:
        # No flush: the unique violation surfaces only at commit, after the handler returned.
        session.add(
            Organization(
                kind=OrganizationKind.enterprise,
                name="dup",
                credit_code=existing.credit_code,
                division_code="150102",
            )
        )
        return {"status": "created"}

    response = await client.post("/test/duplicate-on-commit")

    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "body.credit_code"
    assert await _count(sessionmaker, Organization) == 1


async def test_a_successful_request_commits(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(
        "/v1/users",
        json={"email": "new@example.cn", "password": "Correct-horse-9", "display_name": "新用户"},
    )

    assert response.status_code == 201
    assert await _count(sessionmaker, User) == 1

"""Every POST that creates something takes `Idempotency-Key`: the same key and body replay the
first answer without creating twice; the same key with another body is a 422."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization, OrganizationKind
from app.core.auth import MemberRole
from app.demands.models import Demand
from app.results.models import Result
from tests.factories import RESULT_BODY, MarketFactory, Person


def test_every_creating_post_takes_an_idempotency_key(app: FastAPI) -> None:
    """Read from the OpenAPI document: what third-party apps see is what must hold."""
    creating = {
        path: operation
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method == "post" and "201" in operation["responses"]
    }
    missing = [
        path
        for path, operation in creating.items()
        if "idempotency-key"
        not in {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
    ]

    assert len(creating) >= 20
    assert missing == []


DEMAND = {
    "title": "需要稀土永磁回收技术",
    "description": "寻求从废旧电机中回收钕铁硼的工艺。",
    "field_code": "new_materials.rare_earths",
    "division_code": "150102",
}


async def _count(sessionmaker: async_sessionmaker[AsyncSession], table: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("path", "body", "table"),
    [("/v1/results", RESULT_BODY, Result), ("/v1/demands", DEMAND, Demand)],
)
async def test_a_retried_create_replays_the_first_answer(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str,
    body: dict[str, Any],
    table: Any,
) -> None:
    organization = await factory.organization(OrganizationKind.enterprise)
    owner = await factory.person(organization, MemberRole.owner)
    headers = {**owner.headers, "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    sent = {**body, "organization_id": str(organization.id)}
    before = await _count(sessionmaker, table)

    first = await client.post(path, json=sent, headers=headers)
    again = await client.post(path, json=sent, headers=headers)
    other = await client.post(path, json={**sent, "title": "另一个标题"}, headers=headers)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert await _count(sessionmaker, table) == before + 1


async def test_signing_up_twice_with_one_key_creates_one_account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"email": "retry@example.cn", "password": "Retry-pass-2026", "display_name": "重试"}
    headers = {"Idempotency-Key": "sign-up-1"}

    first = await client.post("/v1/users", json=body, headers=headers)
    again = await client.post("/v1/users", json=body, headers=headers)
    without = await client.post("/v1/users", json=body)

    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert without.status_code == 409  # the email is taken: without a key, it ran again


async def test_keys_of_different_callers_never_meet(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    people: list[tuple[Organization, Person]] = []
    for _ in range(2):
        organization = await factory.organization(OrganizationKind.university)
        people.append((organization, await factory.person(organization, MemberRole.owner)))

    answers = [
        await client.post(
            "/v1/results",
            json={**RESULT_BODY, "organization_id": str(organization.id)},
            headers={**person.headers, "Idempotency-Key": "same-key"},
        )
        for organization, person in people
    ]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]

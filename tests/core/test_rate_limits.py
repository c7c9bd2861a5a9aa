"""Rate limits: per caller and class of routes, shared through PostgreSQL by every API
process, with RateLimit-* headers and a 429 problem naming when to come back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.ratelimit import PostgresCounters, block_size
from app.core.reads import ReadPool
from app.main import create_app
from tests.factories import RESULT_BODY, MarketFactory


@asynccontextmanager
async def api_process(settings: Settings, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """One more API process (its own app, engine and counters) on the same database."""
    app: FastAPI = create_app(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    await app.state.engine.dispose()


async def test_two_api_processes_share_one_budget_per_caller(
    settings: Settings, clock: FrozenClock, factory: MarketFactory
) -> None:
    limited = settings.model_copy(update={"rate_limits": {"writes": 3}})
    organization = await factory.organization(OrganizationKind.university)
    person = await factory.person(organization, MemberRole.owner)
    other = await factory.person(organization, MemberRole.admin)
    body = {**RESULT_BODY, "organization_id": str(organization.id)}

    async with api_process(limited, clock) as first, api_process(limited, clock) as second:
        answers = [
            await (first if n % 2 else second).post(
                "/v1/results", json=body, headers=person.headers
            )
            for n in range(4)
        ]
        someone_else = await first.post("/v1/results", json=body, headers=other.headers)
        reading = await first.get("/v1/results", headers=person.headers)

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[2].headers["ratelimit-remaining"] == "0"
    assert answers[3].json()["code"] == "rate_limited"
    assert answers[3].headers["content-type"].startswith("application/problem+json")
    assert 0 < int(answers[3].headers["retry-after"]) <= 60
    assert someone_else.status_code == 201  # budgets are per person
    assert reading.status_code == 200  # reads are not writes


async def test_a_forged_token_spends_its_senders_budget_not_its_victims(
    settings: Settings, clock: FrozenClock, factory: MarketFactory
) -> None:
    limited = settings.model_copy(update={"rate_limits": {"writes": 1}})
    organization = await factory.organization(OrganizationKind.university)
    person = await factory.person(organization, MemberRole.owner)
    forged = {"Authorization": "Bearer " + person.headers["Authorization"][7:-4] + "AAAA"}

    async with api_process(limited, clock) as api:
        await api.post("/v1/results", json=RESULT_BODY, headers=forged)
        await api.post("/v1/results", json=RESULT_BODY, headers=forged)
        victim = await api.post(
            "/v1/results",
            json={**RESULT_BODY, "organization_id": str(organization.id)},
            headers=person.headers,
        )

    assert victim.status_code == 201


async def test_a_bid_spends_the_bids_and_the_writes_budgets_at_once(
    settings: Settings, clock: FrozenClock, factory: MarketFactory
) -> None:
    """A route with a class of its own counts `writes` too, in the same statement, and answers
    with its own class's headers."""
    limited = settings.model_copy(update={"rate_limits": {"writes": 3, "bids": 2}})
    auction = await factory.auction(start_price_fen=10_000_000)
    [(bidder, person)] = [await factory.bidder(auction)]
    bids = f"/v1/auctions/{auction.id}/bids"
    amount = {"amount": "100000.00", "currency": "CNY"}

    async with api_process(limited, clock) as api:
        first = await api.post(bids, json={"amount": amount}, headers=person.headers)
        second = await api.post(bids, json={"amount": amount}, headers=person.headers)
        third = await api.post(bids, json={"amount": amount}, headers=person.headers)
        other_write = await api.post(
            "/v1/results",
            json={**RESULT_BODY, "organization_id": str(bidder.id)},
            headers=person.headers,
        )

    assert first.status_code == 201, first.text
    assert (first.headers["ratelimit-limit"], first.headers["ratelimit-remaining"]) == ("2", "1")
    assert second.status_code == 409  # already leading: refused, and counted
    assert third.status_code == 429
    assert third.headers["ratelimit-limit"] == "2"
    assert other_write.status_code == 429  # three bids were three writes
    assert other_write.headers["ratelimit-limit"] == "3"


async def test_processes_claim_the_budget_in_blocks_and_never_serve_more_than_it(
    engine: AsyncEngine,
) -> None:
    """Each process claims a twentieth of the budget at a time (less near its end), so a busy
    caller costs a write every few requests; together they never serve more than the limit,
    and a block one leaves unused makes the caller wait at most that much earlier."""
    first, second = PostgresCounters(ReadPool(engine)), PostgresCounters(ReadPool(engine))
    limit, bucket = 100, ["search:address:203.0.113.9"]

    opening = [await first.hit(bucket, 1, [limit]), await second.hit(bucket, 1, [limit])]
    served = 2
    for n in range(400):
        [count] = await (first if n % 3 else second).hit(bucket, 1, [limit])
        served += count <= limit

    assert opening == [[1], [6]]  # the first claimed places 1–5, the second 6–10
    assert limit - 2 * (limit // 20) <= served <= limit
    assert block_size(100, 0) == 5
    assert block_size(100, 95) == 1  # one at a time near the end
    assert block_size(10**9, 0) == 10_000

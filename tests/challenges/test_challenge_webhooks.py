"""Webhooks of the challenge process: an award is public (every subscriber, public fields
only); an objection is the objector's and the owner's alone."""

from __future__ import annotations

import json
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization
from app.core.clock import FrozenClock
from tests.challenges.test_awards_api import ranked_challenge
from tests.factories import MarketFactory
from tests.webhooks.test_webhooks_api import app_key, deliver, receiver, subscribe

EVENTS = ("challenge.awarded", "challenge.objection_filed", "challenge.objection_resolved")


async def test_an_award_goes_to_everyone_an_objection_to_its_two_sides(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    market = await ranked_challenge(client, factory, clock)
    async with sessionmaker() as session:
        objector, bystander, owner = [
            await session.get(Organization, uuid.UUID(market.organizations[i])) for i in (1, 2, 3)
        ]
    endpoints = {}
    for name, organization in (("objector", objector), ("bystander", bystander), ("owner", owner)):
        assert organization is not None
        key = await app_key(client, factory, organization)
        endpoints[name] = ((await subscribe(client, key, *EVENTS))["id"], key)
    bodies: dict[str, dict[str, object]] = {}

    async def record(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies[body["type"]] = body["data"]
        return httpx.Response(204)

    await client.post(
        f"{market.url}/award",
        json={"proposal_id": market.proposals[0]},
        headers=market.owner.headers,
    )
    objection = await client.post(
        f"{market.url}/objections",
        json={"grounds": "中选方案的样机指标未经第三方检测"},
        headers=market.solvers[1].headers,
    )
    assert objection.status_code == 201, objection.text
    async with receiver(record) as http:
        await deliver(sessionmaker, clock, http)
    received = {
        name: sorted(
            d["event_type"]
            for d in (
                await client.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=key)
            ).json()["items"]
        )
        for name, (endpoint, key) in endpoints.items()
    }

    assert received["owner"] == ["challenge.awarded", "challenge.objection_filed"]
    assert received["objector"] == ["challenge.awarded", "challenge.objection_filed"]
    assert received["bystander"] == ["challenge.awarded"]
    assert set(bodies["challenge.awarded"]) <= {
        "challenge_id",
        "title",
        "winner_organization_id",
        "rank",
        "price",
        "publicity_ends_at",
    }

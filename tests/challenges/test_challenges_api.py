"""Open challenges (揭榜挂帅), first step: an enterprise makes its demand a challenge, platform
reviewers screen it (refuse with reasons, publish with a window), and the market sees the
published ones — with their fields, money and deadline — while drafts stay their owner's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from tests.demands.test_demands_api import _demand
from tests.factories import MarketFactory, Person

DUE = "2027-03-31T16:00:00Z"


def challenge(demand_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "demand_id": demand_id,
        "problem": "风电叶片冬季结冰导致停机，需在零下三十度保持叶片无冰运行，能耗可控。",
        "indicators": [
            {"name": "除冰时间", "target": "≤ 30 分钟"},
            {"name": "能耗", "target": "≤ 额定功率的 5%"},
        ],
        "budget_min": {"amount": "500000", "currency": "CNY"},
        "budget_max": {"amount": "1000000", "currency": "CNY"},
        "proposals_due_at": DUE,
        **overrides,
    }


async def posted_demand(client: httpx.AsyncClient, factory: MarketFactory) -> tuple[Person, str]:
    enterprise = await factory.organization(OrganizationKind.enterprise)
    owner = await factory.person(enterprise, MemberRole.owner)
    demand = await client.post(
        "/v1/demands", json=_demand(str(enterprise.id)), headers=owner.headers
    )
    assert demand.status_code == 201, demand.text
    return owner, demand.json()["id"]


async def test_a_demand_becomes_a_challenge_screened_then_published(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    owner, demand_id = await posted_demand(client, factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    university = await factory.person(
        await factory.organization(OrganizationKind.university), MemberRole.owner
    )

    created = await client.post("/v1/challenges", json=challenge(demand_id), headers=owner.headers)
    again = await client.post("/v1/challenges", json=challenge(demand_id), headers=owner.headers)
    url = f"/v1/challenges/{created.json()['id']}"
    hidden = await client.get(url, headers=university.headers)
    by_owner = await client.post(f"{url}/approve", json={"window_days": 10}, headers=owner.headers)
    refused = await client.post(
        f"{url}/reject", json={"reasons": ["预算区间与指标难度不匹配"]}, headers=reviewer.headers
    )
    prize_instead = challenge(
        demand_id,
        prize={"amount": "1000000", "currency": "CNY"},
        budget_min=None,
        budget_max=None,
        proposals_due_at="2026-11-20T16:00:00Z",
    )
    del prize_instead["demand_id"]
    revised = await client.put(url, json=prize_instead, headers=owner.headers)
    window_too_long = await client.post(
        f"{url}/approve", json={"window_days": 30}, headers=reviewer.headers
    )
    published = await client.post(
        f"{url}/approve", json={"window_days": 10}, headers=reviewer.headers
    )
    seen = await client.get(url, headers=university.headers)

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["state"], body["title"], body["field_code"]) == (
        "pending_review",
        "寻求风电叶片防除冰技术",  # the demand's
        "new_energy.wind",
    )
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.demand_id"
    assert hidden.status_code == 404
    assert by_owner.status_code == 403
    assert refused.json()["state"] == "rejected"
    assert refused.json()["rejection_reasons"] == ["预算区间与指标难度不匹配"]
    assert revised.status_code == 200, revised.text
    assert (revised.json()["state"], revised.json()["prize"]) == (
        "pending_review",
        {"amount": "1000000.00", "currency": "CNY"},
    )
    assert revised.json()["rejection_reasons"] is None
    assert window_too_long.status_code == 422
    assert window_too_long.json()["errors"][0]["code"] == "deadline_within_window"
    assert published.status_code == 200, published.text
    assert (published.json()["state"], published.json()["window_days"]) == ("published", 10)
    assert seen.status_code == 200
    assert seen.json()["indicators"][0] == {"name": "除冰时间", "target": "≤ 30 分钟"}


async def test_the_market_lists_published_challenges_by_field_and_money(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    reader = await factory.person(await factory.organization(OrganizationKind.university))
    owner, wind = await posted_demand(client, factory)
    small = (
        await client.post(
            "/v1/challenges",
            json=challenge(
                wind, budget_min=None, budget_max={"amount": "100000", "currency": "CNY"}
            ),
            headers=owner.headers,
        )
    ).json()
    other_owner, other = await posted_demand(client, factory)
    big = (
        await client.post(
            "/v1/challenges",
            json=challenge(other, field_code="new_materials.rare_earths"),
            headers=other_owner.headers,
        )
    ).json()
    third_owner, third = await posted_demand(client, factory)
    pending = (
        await client.post("/v1/challenges", json=challenge(third), headers=third_owner.headers)
    ).json()
    for item in (small, big):
        await client.post(
            f"/v1/challenges/{item['id']}/approve",
            json={"window_days": 5},
            headers=reviewer.headers,
        )

    def ids(response: httpx.Response) -> set[str]:
        return {c["id"] for c in response.json()["items"]}

    everything = await client.get("/v1/challenges", headers=reader.headers)
    materials = await client.get("/v1/challenges?field=new_materials", headers=reader.headers)
    rich = await client.get("/v1/challenges?budget_at_least=500000", headers=reader.headers)
    own = await client.get("/v1/challenges", headers=third_owner.headers)

    assert ids(everything) == {small["id"], big["id"]}
    assert ids(materials) == {big["id"]}
    assert ids(rich) == {big["id"]}
    assert pending["id"] in ids(own)


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"proposals_due_at": "2026-01-01T00:00:00Z"}, "body.proposals_due_at", "deadline_passed"),
        ({"prize": {"amount": "100000", "currency": "CNY"}}, "body", "budget_or_prize"),
        ({"budget_min": None, "budget_max": None}, "body", "budget_or_prize"),
        ({"indicators": []}, "body.indicators", "too_short"),
        ({"proposals_due_at": "2027-03-31T16:00:00"}, "body.proposals_due_at", "timezone_aware"),
    ],
)
async def test_bad_challenges_name_the_field(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    owner, demand_id = await posted_demand(client, factory)
    refused = await client.post(
        "/v1/challenges", json=challenge(demand_id, **overrides), headers=owner.headers
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)


async def test_another_organizations_demand_is_not_found(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    _, demand_id = await posted_demand(client, factory)
    stranger, _ = await posted_demand(client, factory)
    refused = await client.post(
        "/v1/challenges", json=challenge(demand_id), headers=stranger.headers
    )
    assert refused.status_code == 404

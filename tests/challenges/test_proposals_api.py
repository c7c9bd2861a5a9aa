"""Proposals to open challenges (揭榜): one per organization before the deadline, editable and
withdrawable until then, private to the submitter — the challenge's owner sees them only after
the deadline, a competitor never."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from tests.challenges.test_challenges_api import DUE, challenge, posted_demand
from tests.factories import MarketFactory, Person


def proposal(price: str = "800000", **overrides: Any) -> dict[str, Any]:
    half = str(int(price) // 2)
    return {
        "approach": "采用电热膜与疏冰涂层复合方案，在叶片前缘布设分区加热，结合结冰探测按需启停。",
        "team": [{"name": "张教授", "role": "项目负责人"}],
        "schedule": "样机六个月，风场验证六个月。",
        "milestones": [
            {"description": "样机交付", "due_on": "2027-09-30",
             "amount": {"amount": half, "currency": "CNY"}},
            {"description": "风场验证", "due_on": "2028-03-31",
             "amount": {"amount": str(int(price) - int(half)), "currency": "CNY"}},
        ],
        "price": {"amount": price, "currency": "CNY"},
        **overrides,
    }  # fmt: skip


async def published(
    client: httpx.AsyncClient, factory: MarketFactory, **overrides: Any
) -> tuple[Person, str]:
    owner, demand_id = await posted_demand(client, factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    created = await client.post(
        "/v1/challenges", json=challenge(demand_id, **overrides), headers=owner.headers
    )
    approved = await client.post(
        f"/v1/challenges/{created.json()['id']}/approve",
        json={"window_days": 5},
        headers=reviewer.headers,
    )
    assert approved.status_code == 200, approved.text
    return owner, created.json()["id"]


async def solver(factory: MarketFactory, kind: OrganizationKind, **options: Any) -> Person:
    return await factory.person(await factory.organization(kind, **options), MemberRole.owner)


async def test_proposals_stay_private_until_the_deadline_then_go_to_the_owner(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    owner, challenge_id = await published(client, factory)
    university = await solver(factory, OrganizationKind.university)
    institute = await solver(factory, OrganizationKind.research_institute)
    staff = await factory.staff(PlatformRole.reviewer)
    url = f"/v1/challenges/{challenge_id}/proposals"

    first = await client.post(url, json=proposal(), headers=university.headers)
    second = await client.post(url, json=proposal(), headers=university.headers)
    other = await client.post(url, json=proposal("700000"), headers=institute.headers)
    mine = f"/v1/proposals/{first.json()['id']}"
    by_competitor = await client.get(mine, headers=institute.headers)
    owner_before = await client.get(url, headers=owner.headers)
    owner_reads_early = await client.get(mine, headers=owner.headers)
    changed = await client.put(mine, json=proposal("750000"), headers=university.headers)
    not_theirs = await client.post(f"{mine}/withdraw", headers=institute.headers)
    withdrawn = await client.post(
        f"/v1/proposals/{other.json()['id']}/withdraw", headers=institute.headers
    )
    twice = await client.post(
        f"/v1/proposals/{other.json()['id']}/withdraw", headers=institute.headers
    )

    assert first.status_code == 201, first.text
    assert first.json()["state"] == "submitted"
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "path.challenge_id"
    assert other.status_code == 201, other.text
    assert by_competitor.status_code == 404
    assert owner_before.json() == []
    assert owner_reads_early.status_code == 404
    assert changed.json()["price"] == {"amount": "750000.00", "currency": "CNY"}
    assert not_theirs.status_code == 404
    assert withdrawn.json()["state"] == "withdrawn"
    assert twice.status_code == 409

    clock.set(datetime.fromisoformat(DUE))
    late = await client.post(
        url, json=proposal(), headers=(await solver(factory, OrganizationKind.enterprise)).headers
    )
    late_change = await client.put(mine, json=proposal(), headers=university.headers)
    owner_after = await client.get(url, headers=owner.headers)
    staff_sees = await client.get(url, headers=staff.headers)
    own_only = await client.get(url, headers=institute.headers)

    assert late.json()["errors"][0]["code"] == "proposals_closed"
    assert late_change.json()["errors"][0]["code"] == "proposals_closed"
    assert [p["id"] for p in owner_after.json()] == [first.json()["id"]]  # not the withdrawn
    assert len(staff_sees.json()) == 2
    assert [p["id"] for p in own_only.json()] == [other.json()["id"]]


@pytest.mark.parametrize(
    ("case", "field", "code"),
    [
        ("own", "body.organization_id", "own_challenge"),
        ("agency", "body.organization_id", "not_a_solver"),
        ("elsewhere", "body.organization_id", "outside_region"),
        ("foreign_result", "body.result_ids.0", "not_your_result"),
        ("milestones", "body", "milestones_sum"),
    ],
)
async def test_bad_proposals_name_the_rule(
    client: httpx.AsyncClient, factory: MarketFactory, case: str, field: str, code: str
) -> None:
    owner, challenge_id = await published(client, factory, open_beyond_region=False)
    body = proposal()
    who = await solver(factory, OrganizationKind.university)  # in Inner Mongolia (15)
    if case == "own":
        who = owner
    elif case == "agency":
        who = await solver(factory, OrganizationKind.transfer_agency)
    elif case == "elsewhere":
        who = await solver(factory, OrganizationKind.university, division_code="110108")
    elif case == "foreign_result":
        result = await factory.result(await factory.organization(OrganizationKind.university))
        body = proposal(result_ids=[str(result.id)])
    else:
        body = {**proposal(), "price": {"amount": "900000", "currency": "CNY"}}
    refused = await client.post(
        f"/v1/challenges/{challenge_id}/proposals", json=body, headers=who.headers
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)

"""The audit trail (`app/core/audit.py`): every change a person or a key makes is appended in
its transaction with actor, organization, object, request id and address; nobody rewrites it;
platform admins read all of it, an organization's owners their own."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.audit import AuditEvent
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.listings.models import ListingState
from tests.factories import MarketFactory
from tests.results.test_results_api import _result


async def test_a_review_decision_is_recorded_with_who_where_and_which_request(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    reviewer = await factory.staff(PlatformRole.reviewer)
    admin = await factory.staff(PlatformRole.admin)
    listing = await factory.listing(university, state=ListingState.pending_review)

    approved = await client.post(
        f"/v1/listings/{listing.id}/approve",
        headers={**reviewer.headers, "X-Request-Id": "review-0001-abcdef"},
    )
    trail = await client.get(
        "/v1/audit-events", params={"object_id": str(listing.id)}, headers=admin.headers
    )

    assert approved.status_code == 200, approved.text
    assert trail.status_code == 200, trail.text
    [event] = trail.json()["items"]
    assert event["action"] == "listing.published"
    assert (event["object_type"], event["object_id"]) == ("listing", str(listing.id))
    assert event["actor_user_id"] == str(reviewer.user_id)
    assert event["organization_id"] == str(university.id)
    assert event["request_id"] == "review-0001-abcdef"
    assert event["address"] == "127.0.0.1"
    assert event["changes"]["listing_id"] == str(listing.id)
    assert event["before"] == {"state": "pending_review"}


async def test_owners_read_their_organizations_events_and_nobody_elses(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    member = await factory.person(organization, MemberRole.member)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    newcomer = await factory.person()
    added = await client.post(
        f"/v1/organizations/{organization.id}/members",
        json={"email": newcomer.email, "role": "member"},
        headers=owner.headers,
    )
    own = {"organization_id": str(organization.id)}

    mine = await client.get("/v1/audit-events", params=own, headers=owner.headers)
    unnamed = await client.get("/v1/audit-events", headers=owner.headers)
    as_member = await client.get("/v1/audit-events", params=own, headers=member.headers)
    as_outsider = await client.get("/v1/audit-events", params=own, headers=outsider.headers)

    assert added.status_code == 201, added.text
    assert [e["actor_user_id"] for e in mine.json()["items"]] == [str(owner.user_id)]
    assert unnamed.status_code == 403
    assert as_member.status_code == 403
    assert as_outsider.status_code == 404


async def test_changes_nobody_made_in_a_request_are_not_the_trails(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    admin = await factory.staff(PlatformRole.admin)
    await factory.listing(await factory.organization(OrganizationKind.university))
    trail = await client.get("/v1/audit-events", headers=admin.headers)

    assert trail.json()["items"] == []


async def test_the_trail_cannot_be_rewritten_or_erased(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    await client.patch(
        f"/v1/organizations/{organization.id}", json={"name": "新名字"}, headers=owner.headers
    )
    await client.post(
        f"/v1/organizations/{organization.id}/members",
        json={"email": (await factory.person()).email, "role": "member"},
        headers=owner.headers,
    )
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) >= 1

    for statement in (update(AuditEvent).values(action="x"), delete(AuditEvent)):
        async with sessionmaker() as session, session.begin():
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM audit_events")) >= 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "query.until"),
        ({"since": "yesterday"}, "query.since"),
        ({"organization_id": "not-a-uuid"}, "query.organization_id"),
        ({"limit": "0"}, "query.limit"),
    ],
)
async def test_bad_filters_name_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, params: dict[str, str], field: str
) -> None:
    admin = await factory.staff(PlatformRole.admin)
    answer = await client.get("/v1/audit-events", params=params, headers=admin.headers)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == [field]


async def test_staff_without_the_admin_role_read_only_as_owners(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    answer = await client.get(
        "/v1/audit-events", params={"actor_user_id": str(uuid.uuid4())}, headers=reviewer.headers
    )

    assert answer.status_code == 403


async def test_webhook_endpoint_changes_are_recorded_without_their_secrets(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    created = await client.post(
        "/v1/webhook-endpoints",
        json={
            "url": "https://erp.example.cn/hooks",
            "event_types": ["listing.published"],
            "organization_id": str(organization.id),
        },
        headers=owner.headers,
    )
    endpoint = created.json()["id"]
    await client.post(
        f"/v1/webhook-endpoints/{endpoint}/rotate-secret", json={}, headers=owner.headers
    )
    await client.delete(f"/v1/webhook-endpoints/{endpoint}", headers=owner.headers)
    trail = (
        await client.get(
            "/v1/audit-events",
            params={"organization_id": str(organization.id), "object_type": "webhook_endpoint"},
            headers=owner.headers,
        )
    ).json()["items"]

    assert created.status_code == 201, created.text
    assert sorted(event["action"] for event in trail) == [
        "webhook_endpoint.created",
        "webhook_endpoint.deleted",
        "webhook_endpoint.secret_rotated",
    ]
    assert {event["object_id"] for event in trail} == {endpoint}
    assert all("secret" not in json.dumps(event["changes"]) for event in trail)


async def test_a_regulators_period_exports_as_csv(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    university = await factory.organization(OrganizationKind.university, name="内蒙古大学")
    reviewer = await factory.staff(PlatformRole.reviewer)
    admin = await factory.staff(PlatformRole.admin)
    first = await factory.listing(university, state=ListingState.pending_review)
    second = await factory.listing(university, state=ListingState.pending_review)
    await client.post(f"/v1/listings/{first.id}/approve", headers=reviewer.headers)
    clock.advance(timedelta(days=40))
    await client.post(f"/v1/listings/{second.id}/approve", headers=reviewer.headers)
    period = {
        "since": (clock.now() - timedelta(days=1)).isoformat(),
        "until": (clock.now() + timedelta(days=1)).isoformat(),
    }

    exported = await client.get(
        "/v1/audit-events", params=period, headers={**admin.headers, "Accept": "text/csv"}
    )
    no_period = await client.get(
        "/v1/audit-events", headers={**admin.headers, "Accept": "text/csv"}
    )

    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["at", "actor_user_id", "actor_api_key_id", "organization_id", "action"]
    assert [(row[4], row[6]) for row in rows[1:]] == [("listing.published", str(second.id))]
    assert json.loads(rows[1][7])["listing_id"] == str(second.id)
    assert json.loads(rows[1][8]) == {"state": "pending_review"}
    assert no_period.status_code == 422
    assert no_period.json()["errors"][0]["field"] == "query.since"


async def test_an_organizations_changed_details_are_recorded(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    owner = await factory.person(organization, MemberRole.owner)
    changed = await client.patch(
        f"/v1/organizations/{organization.id}",
        json={"name": "新校名", "inventor_reward_percent": "60"},
        headers=owner.headers,
    )
    [event] = (
        await client.get(
            "/v1/audit-events",
            params={"organization_id": str(organization.id), "action": "organization.updated"},
            headers=owner.headers,
        )
    ).json()["items"]

    assert changed.status_code == 200, changed.text
    assert event["changes"]["name"] == "新校名"
    assert event["changes"]["inventor_reward_percent"] == "60"
    assert event["before"] == {
        "name": organization.name,
        "inventor_reward_percent": "50.00",
    }


async def test_role_changes_keep_what_was_held_before(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    member = await factory.person(organization, MemberRole.member)
    admin = await factory.staff(PlatformRole.admin)
    clerk = await factory.staff(PlatformRole.reviewer)

    promoted = await client.patch(
        f"/v1/organizations/{organization.id}/members/{member.user_id}",
        json={"role": "admin"},
        headers=owner.headers,
    )
    staffed = await client.put(
        f"/v1/users/{clerk.user_id}/platform-roles",
        json={"roles": ["registrar", "reviewer"]},
        headers=admin.headers,
    )
    trail = (
        await client.get(
            "/v1/audit-events",
            params={"actor_user_id": str(owner.user_id)},
            headers=admin.headers,
        )
    ).json()["items"] + (
        await client.get(
            "/v1/audit-events", params={"action": "staff.roles_changed"}, headers=admin.headers
        )
    ).json()["items"]
    by_action = {event["action"]: event for event in trail}

    assert promoted.status_code == 200, promoted.text
    assert staffed.status_code == 200, staffed.text
    assert by_action["member.role_changed"]["changes"]["role"] == "admin"
    assert by_action["member.role_changed"]["before"] == {"role": "member"}
    assert by_action["staff.roles_changed"]["before"] == {"roles": ["reviewer"]}
    assert by_action["staff.roles_changed"]["changes"]["roles"] == ["registrar", "reviewer"]


async def test_the_catalogue_and_a_listings_terms_are_on_the_record(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    result = await factory.result(university)
    listing = await factory.listing(university, state=ListingState.draft)
    own = {"organization_id": str(university.id)}
    body = _result(str(university.id), title="新标题：稀土永磁", inventors=[{"name": "张明"}])
    del body["organization_id"]
    terms = {
        "mode": "fixed_price",
        "transfer_type": "assignment",
        "price": {"amount": "480000.00", "currency": "CNY"},
        "window_days": 20,
        "description": "转让专利权。",
    }

    replaced = await client.put(f"/v1/results/{result.id}", json=body, headers=owner.headers)
    termed = await client.put(f"/v1/listings/{listing.id}", json=terms, headers=owner.headers)
    trail = {
        event["action"]: event
        for event in (
            await client.get("/v1/audit-events", params=own, headers=owner.headers)
        ).json()["items"]
    }

    assert replaced.status_code == 200, replaced.text
    assert termed.status_code == 200, termed.text
    assert trail["result.replaced"]["object_id"] == str(result.id)
    assert trail["result.replaced"]["changes"]["title"] == "新标题：稀土永磁"
    assert trail["result.replaced"]["before"]["title"] == result.title
    # Only what changed: both sides name the same fields.
    assert set(trail["result.replaced"]["before"]) == set(trail["result.replaced"]["changes"]) - {
        "result_id",
        "organization_id",
        "inventors",
    }
    assert trail["listing.terms_replaced"]["changes"]["window_days"] == 20
    assert trail["listing.terms_replaced"]["before"]["window_days"] == listing.window_days

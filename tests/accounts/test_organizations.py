"""Organizations, verification and members, over HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.demo import demo_credit_code
from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.outbox import OutboxEvent
from tests.factories import Factory


def _new_organization(kind: str = "university", **overrides: str) -> dict[str, str]:
    name = f"内蒙古测试大学{uuid.uuid4().hex[:6]}"
    return {
        "kind": kind,
        "name": name,
        "credit_code": demo_credit_code(name, "150105", OrganizationKind.university),
        "division_code": "150105",
        **overrides,
    }


async def test_creator_becomes_owner_and_it_awaits_verification(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    person = await factory.person()

    created = await client.post(
        "/v1/organizations", json=_new_organization(), headers=person.headers
    )

    assert created.status_code == 201
    body = created.json()
    assert body["verification_status"] == "pending"
    assert body["division_name"] == "内蒙古自治区 呼和浩特市 赛罕区"
    me = (await client.get("/v1/me", headers=person.headers)).json()
    assert me["memberships"][0]["role"] == "owner"
    async with sessionmaker() as session:
        topics = (await session.scalars(select(OutboxEvent.topic))).all()
    assert topics == ["organization.created"]


async def test_duplicate_credit_code_is_409_naming_the_field(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    body = _new_organization()
    await client.post("/v1/organizations", json=body, headers=person.headers)

    again = await client.post(
        "/v1/organizations", json={**body, "name": "另一个名字"}, headers=person.headers
    )

    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.credit_code"


async def test_concurrent_duplicates_still_give_one_organization(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    body = _new_organization()

    answers = await asyncio.gather(
        *[client.post("/v1/organizations", json=body, headers=person.headers) for _ in range(4)]
    )

    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]


@pytest.mark.parametrize(
    ("override", "field", "code"),
    [
        ({"kind": "platform"}, "body.kind", "literal_error"),
        ({"credit_code": "91150105MA0N00000X"}, "body.credit_code", "uscc_invalid"),
        ({"division_code": "150199"}, "body.division_code", "division_code_invalid"),
        ({"division_code": "15"}, "body.division_code", "string_pattern_mismatch"),
        ({"name": "   "}, "body.name", "string_too_short"),
    ],
)
async def test_bad_fields_are_named(
    client: httpx.AsyncClient, factory: Factory, override: dict[str, str], field: str, code: str
) -> None:
    person = await factory.person()

    response = await client.post(
        "/v1/organizations", json=_new_organization(**override), headers=person.headers
    )

    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (
        field,
        code,
    )


async def test_only_verified_or_own_organizations_are_visible(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    verified = await factory.organization(verified=True)
    pending = await factory.organization(verified=False)
    outsider = await factory.person()
    insider = await factory.person(pending)

    assert (
        await client.get(f"/v1/organizations/{verified.id}", headers=outsider.headers)
    ).status_code == 200
    assert (
        await client.get(f"/v1/organizations/{pending.id}", headers=outsider.headers)
    ).status_code == 404
    assert (
        await client.get(f"/v1/organizations/{pending.id}", headers=insider.headers)
    ).status_code == 200
    listed = (await client.get("/v1/organizations", headers=outsider.headers)).json()["items"]
    assert [item["id"] for item in listed] == [str(verified.id)]


async def test_reviewer_verifies_and_rejection_needs_a_note(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    pending = await factory.organization(verified=False)
    other = await factory.organization(verified=False)
    reviewer = await factory.staff(PlatformRole.reviewer)
    registrar = await factory.staff(PlatformRole.registrar)
    owner = await factory.person(pending, MemberRole.owner)

    by_owner = await client.post(
        f"/v1/organizations/{pending.id}/verify", json={"decision": "verify"}, headers=owner.headers
    )
    by_registrar = await client.post(
        f"/v1/organizations/{pending.id}/verify",
        json={"decision": "verify"},
        headers=registrar.headers,
    )
    verified = await client.post(
        f"/v1/organizations/{pending.id}/verify",
        json={"decision": "verify"},
        headers=reviewer.headers,
    )
    twice = await client.post(
        f"/v1/organizations/{pending.id}/verify",
        json={"decision": "verify"},
        headers=reviewer.headers,
    )
    bare_rejection = await client.post(
        f"/v1/organizations/{other.id}/verify",
        json={"decision": "reject"},
        headers=reviewer.headers,
    )

    assert by_owner.status_code == 403
    assert by_registrar.status_code == 403
    assert verified.json()["verification_status"] == "verified"
    assert twice.status_code == 409
    assert bare_rejection.status_code == 422
    assert bare_rejection.json()["errors"][0]["field"] == "body.note"


async def test_credit_code_is_fixed_once_verified(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    organization = await factory.organization(verified=True)
    owner = await factory.person(organization, MemberRole.owner)
    code = demo_credit_code("别的", "150102", OrganizationKind.enterprise)

    renamed = await client.patch(
        f"/v1/organizations/{organization.id}", json={"name": "新名称"}, headers=owner.headers
    )
    recoded = await client.patch(
        f"/v1/organizations/{organization.id}", json={"credit_code": code}, headers=owner.headers
    )

    assert renamed.json()["name"] == "新名称"
    assert recoded.status_code == 409
    assert recoded.json()["code"] == "invalid_state"


async def test_a_rejected_organization_returns_to_review_when_changed(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    organization = await factory.organization(verified=False)
    owner = await factory.person(organization, MemberRole.owner)
    reviewer = await factory.staff(PlatformRole.reviewer)
    await client.post(
        f"/v1/organizations/{organization.id}/verify",
        json={"decision": "reject", "note": "名称与营业执照不符"},
        headers=reviewer.headers,
    )

    fixed = await client.patch(
        f"/v1/organizations/{organization.id}", json={"name": "正确名称"}, headers=owner.headers
    )

    assert fixed.json()["verification_status"] == "pending"


async def test_members_are_managed_by_owners_and_admins(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    admin = await factory.person(organization, MemberRole.admin)
    member = await factory.person(organization, MemberRole.member)
    newcomer = await factory.person()
    url = f"/v1/organizations/{organization.id}/members"

    by_member = await client.post(url, json={"email": newcomer.email}, headers=member.headers)
    added = await client.post(url, json={"email": newcomer.email}, headers=admin.headers)
    again = await client.post(url, json={"email": newcomer.email}, headers=admin.headers)
    unknown = await client.post(url, json={"email": "ghost@example.cn"}, headers=admin.headers)
    admin_makes_owner = await client.patch(
        f"{url}/{newcomer.user_id}", json={"role": "owner"}, headers=admin.headers
    )
    owner_makes_owner = await client.patch(
        f"{url}/{newcomer.user_id}", json={"role": "owner"}, headers=owner.headers
    )
    listed = await client.get(url, headers=member.headers)

    assert by_member.status_code == 403
    assert added.status_code == 201
    assert again.status_code == 409
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "no_such_user"
    assert admin_makes_owner.status_code == 403
    assert owner_makes_owner.json()["role"] == "owner"
    assert len(listed.json()["items"]) == 4


async def test_the_last_owner_stays(client: httpx.AsyncClient, factory: Factory) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    url = f"/v1/organizations/{organization.id}/members/{owner.user_id}"

    demoted = await client.patch(url, json={"role": "member"}, headers=owner.headers)
    left = await client.delete(url, headers=owner.headers)

    assert demoted.status_code == left.status_code == 409
    assert left.json()["code"] == "invalid_state"


async def test_two_owners_demoting_each_other_at_once_leave_one(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    organization = await factory.organization()
    first = await factory.person(organization, MemberRole.owner)
    second = await factory.person(organization, MemberRole.owner)
    url = f"/v1/organizations/{organization.id}/members"

    answers = await asyncio.gather(
        client.patch(f"{url}/{second.user_id}", json={"role": "member"}, headers=first.headers),
        client.patch(f"{url}/{first.user_id}", json={"role": "member"}, headers=second.headers),
    )

    assert sorted(a.status_code for a in answers) in ([200, 403], [200, 409])
    members = (await client.get(url, headers=first.headers)).json()["items"]
    assert sum(1 for m in members if m["role"] == "owner") == 1


async def test_a_member_may_leave(client: httpx.AsyncClient, factory: Factory) -> None:
    organization = await factory.organization()
    await factory.person(organization, MemberRole.owner)
    member = await factory.person(organization, MemberRole.member)

    left = await client.delete(
        f"/v1/organizations/{organization.id}/members/{member.user_id}", headers=member.headers
    )

    assert left.status_code == 204


async def test_platform_admin_sets_staff_roles(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(PlatformRole.admin)
    reviewer = await factory.staff(PlatformRole.reviewer)
    person = await factory.person()

    granted = await client.put(
        f"/v1/users/{person.user_id}/platform-roles",
        json={"roles": ["registrar"]},
        headers=admin.headers,
    )
    by_reviewer = await client.put(
        f"/v1/users/{person.user_id}/platform-roles",
        json={"roles": ["admin"]},
        headers=reviewer.headers,
    )

    assert granted.json() == ["registrar"]
    assert by_reviewer.status_code == 403
    me = (await client.get("/v1/me", headers=person.headers)).json()
    assert me["platform_roles"] == ["registrar"]

"""Technology broker profiles (技术经纪人), over HTTP."""

from __future__ import annotations

import httpx
import pytest

from app.accounts.models import BrokerStatus, OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from tests.factories import Factory


async def test_apply_then_reviewer_activates(client: httpx.AsyncClient, factory: Factory) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency)
    broker = await factory.person(agency)
    reviewer = await factory.staff(PlatformRole.reviewer)

    applied = await client.post(
        "/v1/brokers",
        json={
            "certificate_number": "NMJJR-2026-0007",
            "level": "senior",
            "agency_id": str(agency.id),
        },
        headers=broker.headers,
    )
    activated = await client.post(
        f"/v1/brokers/{applied.json()['id']}/status",
        json={"status": "active"},
        headers=reviewer.headers,
    )

    assert applied.status_code == 201
    assert applied.json()["status"] == "pending"
    assert activated.json()["status"] == "active"
    me = (await client.get("/v1/me", headers=broker.headers)).json()
    assert me["broker_profile_id"] == applied.json()["id"]


@pytest.mark.parametrize(
    ("kind", "verified"),
    [(OrganizationKind.enterprise, True), (OrganizationKind.transfer_agency, False)],
)
async def test_agency_must_be_a_verified_transfer_agency(
    client: httpx.AsyncClient, factory: Factory, kind: OrganizationKind, verified: bool
) -> None:
    organization = await factory.organization(kind, verified=verified)
    person = await factory.person()

    response = await client.post(
        "/v1/brokers",
        json={
            "certificate_number": "NMJJR-1",
            "level": "junior",
            "agency_id": str(organization.id),
        },
        headers=person.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.agency_id"


async def test_certificate_numbers_and_profiles_are_unique(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    first = await factory.person()
    second = await factory.person()
    body = {"certificate_number": "NMJJR-2026-0001", "level": "junior"}

    await client.post("/v1/brokers", json=body, headers=first.headers)
    same_certificate = await client.post("/v1/brokers", json=body, headers=second.headers)
    second_profile = await client.post(
        "/v1/brokers", json={**body, "certificate_number": "NMJJR-2026-0002"}, headers=first.headers
    )

    assert same_certificate.status_code == 409
    assert same_certificate.json()["errors"][0]["field"] == "body.certificate_number"
    assert second_profile.status_code == 409


async def test_illegal_transition_lists_the_allowed_states(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    profile = await factory.broker(person, status=BrokerStatus.revoked)
    reviewer = await factory.staff(PlatformRole.reviewer)

    response = await client.post(
        f"/v1/brokers/{profile.id}/status", json={"status": "active"}, headers=reviewer.headers
    )

    assert response.status_code == 409
    assert response.json()["allowed"] == []


async def test_suspension_needs_a_reason(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()
    profile = await factory.broker(person)
    reviewer = await factory.staff(PlatformRole.reviewer)

    bare = await client.post(
        f"/v1/brokers/{profile.id}/status", json={"status": "suspended"}, headers=reviewer.headers
    )
    reasoned = await client.post(
        f"/v1/brokers/{profile.id}/status",
        json={"status": "suspended", "reason": "证书过期"},
        headers=reviewer.headers,
    )

    assert bare.status_code == 422
    assert reasoned.json()["status"] == "suspended"


async def test_pending_profiles_are_private(client: httpx.AsyncClient, factory: Factory) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency)
    agency_admin = await factory.person(agency, MemberRole.admin)
    applicant = await factory.person()
    pending = await factory.broker(applicant, agency=agency, status=BrokerStatus.pending)
    active = await factory.broker(await factory.person())
    stranger = await factory.person()

    assert (
        await client.get(f"/v1/brokers/{pending.id}", headers=stranger.headers)
    ).status_code == 404
    assert (
        await client.get(f"/v1/brokers/{pending.id}", headers=applicant.headers)
    ).status_code == 200
    assert (
        await client.get(f"/v1/brokers/{pending.id}", headers=agency_admin.headers)
    ).status_code == 200
    listed = (await client.get("/v1/brokers", headers=stranger.headers)).json()["items"]
    assert [item["id"] for item in listed] == [str(active.id)]


async def test_a_new_certificate_goes_back_to_review(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    profile = await factory.broker(person)
    someone_else = await factory.person()

    by_other = await client.patch(
        f"/v1/brokers/{profile.id}", json={"level": "senior"}, headers=someone_else.headers
    )
    changed = await client.patch(
        f"/v1/brokers/{profile.id}",
        json={"certificate_number": "NMJJR-2027-0001"},
        headers=person.headers,
    )

    assert by_other.status_code == 403
    assert changed.json()["status"] == "pending"

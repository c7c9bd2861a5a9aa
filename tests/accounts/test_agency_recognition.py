"""Transfer agencies recognized by the region (自治区认定的技术转移服务机构): platform reviewers
record each recognition with its period; periods do not overlap; anyone who may see the agency
sees them; each is in the audit trail."""

from __future__ import annotations

import httpx

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from tests.factories import MarketFactory


async def test_a_reviewer_records_an_agencys_recognition_for_a_period(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency)
    enterprise = await factory.organization()
    pending = await factory.organization(OrganizationKind.transfer_agency, verified=False)
    reviewer = await factory.staff(PlatformRole.reviewer)
    admin = await factory.staff(PlatformRole.admin)
    owner = await factory.person(agency, MemberRole.owner)
    outsider = await factory.person(enterprise, MemberRole.owner)
    url = f"/v1/organizations/{agency.id}/agency-recognitions"
    period = {"valid_from": "2026-01-01", "valid_until": "2027-12-31", "note": "自治区科技厅认定"}

    recognized = await client.post(url, json=period, headers=reviewer.headers)
    overlapping = await client.post(
        url,
        json={"valid_from": "2027-06-01", "valid_until": "2029-12-31"},
        headers=reviewer.headers,
    )
    next_period = await client.post(
        url,
        json={"valid_from": "2028-01-01", "valid_until": "2029-12-31"},
        headers=reviewer.headers,
    )
    inverted = await client.post(
        url,
        json={"valid_from": "2031-01-01", "valid_until": "2030-12-31"},
        headers=reviewer.headers,
    )
    not_an_agency = await client.post(
        f"/v1/organizations/{enterprise.id}/agency-recognitions",
        json=period,
        headers=reviewer.headers,
    )
    not_verified = await client.post(
        f"/v1/organizations/{pending.id}/agency-recognitions", json=period, headers=reviewer.headers
    )
    by_owner = await client.post(url, json=period, headers=owner.headers)
    seen = await client.get(url, headers=outsider.headers)
    trail = (
        await client.get(
            "/v1/audit-events", params={"action": "agency.recognized"}, headers=admin.headers
        )
    ).json()["items"]

    assert recognized.status_code == 201, recognized.text
    assert recognized.json()["valid_until"] == "2027-12-31"
    assert (overlapping.status_code, overlapping.json()["errors"][0]["field"]) == (
        422,
        "body.valid_from",
    )
    assert next_period.status_code == 201
    assert inverted.json()["errors"][0]["code"] == "period_inverted"
    assert not_an_agency.json()["errors"][0]["code"] == "not_a_transfer_agency"
    assert not_verified.json()["errors"][0]["code"] == "not_verified"
    assert by_owner.status_code == 403
    assert [r["valid_from"] for r in seen.json()] == ["2028-01-01", "2026-01-01"]
    assert [event["organization_id"] for event in trail] == [str(agency.id)] * 2

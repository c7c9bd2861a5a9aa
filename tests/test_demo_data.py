"""Demo data: realistic organizations, every role, brokers, and logins that work."""

from __future__ import annotations

import httpx
from stdnum.cn import uscc

from app.accounts.demo import DEMO_PASSWORD, ORGANIZATIONS
from app.accounts.identifiers import divisions
from app.demo import seed_if_empty
from app.results.taxonomy import fields


async def test_seeding_once_gives_working_logins(
    database_url: str, client: httpx.AsyncClient
) -> None:
    credentials = await seed_if_empty(database_url)
    second = await seed_if_empty(database_url)

    assert credentials is not None
    assert second is None
    for email in ("admin@techx.demo", "tto@imu.techx.demo", "broker1@agency.techx.demo"):
        token = await client.post(
            "/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}
        )
        assert token.status_code == 200, email
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["broker_profile_id"] is not None


async def test_the_demo_market_is_alive(database_url: str, client: httpx.AsyncClient) -> None:
    await seed_if_empty(database_url)
    token = await client.post(
        "/v1/auth/token", data={"username": "rd@dairy.techx.demo", "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    published = []
    cursor = None
    while True:
        params = {"state": "published", "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/listings", params=params, headers=headers)).json()
        published += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert len(published) >= 200
    assert {item["result"]["field_code"].split(".")[0] for item in published} == {
        code for code, field in fields().items() if field.parent is None
    }
    intent = await client.post(
        f"/v1/listings/{published[0]['id']}/intents", json={}, headers=headers
    )
    assert intent.status_code == 201, intent.text


def test_demo_organizations_have_valid_codes() -> None:
    from app.accounts.demo import demo_credit_code

    for organization in ORGANIZATIONS:
        code = demo_credit_code(organization.name, organization.division_code, organization.kind)
        assert uscc.is_valid(code)
        assert organization.division_code.startswith("15")
        assert organization.division_code in divisions()


async def test_create_admin_makes_a_platform_admin(
    database_url: str, client: httpx.AsyncClient
) -> None:
    from app.accounts.demo import create_platform_admin

    await create_platform_admin(database_url, "root@techx.cn", "Root-pass-2026", "管理员")
    token = await client.post(
        "/v1/auth/token", data={"username": "root@techx.cn", "password": "Root-pass-2026"}
    )
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )

    assert me.json()["platform_roles"] == ["admin"]
    assert me.json()["memberships"][0]["organization_kind"] == "platform"

"""Sign-up, sign-in, tokens, refresh rotation, API keys and scopes, over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import ApiKey, OrganizationKind
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from tests.factories import PASSWORD, Factory


async def _sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return await client.post(
        "/v1/auth/token", data={"username": email, "password": password, **extra}
    )


async def test_sign_up_then_sign_in(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/users",
        json={"email": "Wang@IMU.edu.cn", "password": PASSWORD, "display_name": "王老师"},
    )
    tokens = await _sign_in(client, "wang@imu.edu.cn")

    assert created.status_code == 201
    assert "password" not in created.text
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["user"]["id"] == created.json()["id"]


async def test_email_is_unique_whatever_the_case(client: httpx.AsyncClient) -> None:
    body = {"email": "li@example.cn", "password": PASSWORD, "display_name": "李"}
    await client.post("/v1/users", json=body)

    again = await client.post("/v1/users", json={**body, "email": "LI@Example.CN"})

    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.email"


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()

    wrong = await _sign_in(client, person.email, "Wrong-horse-9")
    unknown = await _sign_in(client, "nobody@example.cn")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert "www-authenticate" in wrong.headers


async def test_access_tokens_expire(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    person = await factory.person()
    token = (await _sign_in(client, person.email)).json()["access_token"]

    clock.advance(timedelta(minutes=15, seconds=1))
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_refresh_rotates_and_a_replay_revokes_the_family(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    first = (await _sign_in(client, person.email)).json()

    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    after_theft = await client.post(
        "/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_grant"
    assert after_theft.status_code == 400


async def test_sign_out_revokes_refresh(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()
    tokens = (await _sign_in(client, person.email)).json()

    revoked = await client.post("/v1/auth/revoke", json={"refresh_token": tokens["refresh_token"]})
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )

    assert revoked.status_code == 204
    assert refreshed.status_code == 400


async def test_refresh_tokens_expire(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    person = await factory.person()
    tokens = (await _sign_in(client, person.email)).json()

    clock.advance(timedelta(days=31))
    response = await client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )

    assert response.status_code == 400


async def test_a_narrower_scope_is_enforced(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()
    token = (await _sign_in(client, person.email, scope="profile:read")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    me = await client.get("/v1/me", headers=headers)
    organizations = await client.get("/v1/organizations", headers=headers)

    assert me.status_code == 200
    assert organizations.status_code == 403
    assert organizations.json()["code"] == "insufficient_scope"
    assert 'scope="organizations:read"' in organizations.headers["www-authenticate"]


async def test_unknown_scope_is_a_field_error(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()

    response = await _sign_in(client, person.email, scope="everything")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.scope"


async def test_api_key_lifecycle(
    client: httpx.AsyncClient,
    factory: Factory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    admin = await factory.person(organization, MemberRole.admin)

    created = await client.post(
        "/v1/api-keys",
        json={
            "organization_id": str(organization.id),
            "name": "成果管理系统",
            "scopes": ["organizations:read", "listings:read"],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("tx_")
    app_headers = {"Authorization": f"Bearer {secret}"}

    listed = await client.get(
        "/v1/api-keys", params={"organization_id": str(organization.id)}, headers=admin.headers
    )
    assert "key" not in listed.json()["items"][0]
    assert secret not in listed.text

    own = await client.get(f"/v1/organizations/{organization.id}", headers=app_headers)
    assert own.status_code == 200
    async with sessionmaker() as session:
        key = await session.scalar(select(ApiKey))
        assert key is not None
        assert key.last_used_at == clock.now()
        assert key.key_hash != secret

    no_scope = await client.get("/v1/brokers", headers=app_headers)
    assert no_scope.status_code == 403

    people_only = await client.get("/v1/me", headers=app_headers)
    assert people_only.status_code == 403

    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=admin.headers)
    assert revoked.json()["revoked_at"] is not None
    after = await client.get(f"/v1/organizations/{organization.id}", headers=app_headers)
    assert after.status_code == 401


async def test_api_keys_cannot_hold_people_only_scopes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)

    response = await client.post(
        "/v1/api-keys",
        json={"organization_id": str(organization.id), "name": "x", "scopes": ["members:write"]},
        headers=owner.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.scopes"


async def test_expired_api_keys_stop_working(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    organization = await factory.organization()
    owner = await factory.person(organization, MemberRole.owner)
    created = await client.post(
        "/v1/api-keys",
        json={
            "organization_id": str(organization.id),
            "name": "short-lived",
            "scopes": ["organizations:read"],
            "expires_at": (clock.now() + timedelta(days=1)).isoformat(),
        },
        headers=owner.headers,
    )
    headers = {"Authorization": f"Bearer {created.json()['key']}"}

    clock.advance(timedelta(days=1, seconds=1))

    assert (await client.get("/v1/organizations", headers=headers)).status_code == 401


async def test_a_tampered_api_key_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    organization = await factory.organization()
    secret = await factory.api_key(organization, ["organizations:read"])

    tampered = secret[:-2] + ("AA" if not secret.endswith("AA") else "BB")
    response = await client.get(
        "/v1/organizations", headers={"Authorization": f"Bearer {tampered}"}
    )

    assert response.status_code == 401

"""Verified callers kept by each API process (`app/accounts/principals.py`): what is kept is
used, and nothing that takes rights away waits for it — in the process that made the change,
and in another process on the same database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Membership, OrganizationKind, User
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.main import create_app
from tests.factories import PASSWORD, Factory


@asynccontextmanager
async def serving(settings: Settings, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """An API process as `techx serve` runs it: its lifespan started, so it listens for
    notices and keeps what it verified."""
    app: FastAPI = create_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert app.state.principals.listener.listening
        yield client
    await app.state.engine.dispose()


async def _eventually(check: object, status: int) -> int:
    """The status `check()` answers once it answers `status`, or the last one after 2 s."""
    answer = 0
    for _ in range(40):
        answer = (await check()).status_code  # type: ignore[operator]
        if answer == status:
            break
        await asyncio.sleep(0.05)
    return answer


async def test_a_kept_caller_is_used_until_its_rights_change_behind_the_apps_back(
    settings: Settings,
    clock: FrozenClock,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    member = await factory.person(organization, MemberRole.member)
    own = f"/v1/organizations/{organization.id}/members"

    async with serving(settings, clock) as api:
        assert (await api.get(own, headers=member.headers)).status_code == 200
        # Removed in the database directly, without the notice the service sends: the process
        # still trusts what it verified (this shows the cache is used, and why every change
        # goes through `announce_change`).
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(Membership).where(Membership.user_id == member.user_id))
        kept = await api.get(own, headers=member.headers)

    assert kept.status_code == 200


async def test_signing_out_ends_the_access_token_at_once(
    settings: Settings, clock: FrozenClock, factory: Factory
) -> None:
    person = await factory.person()
    async with serving(settings, clock) as api:
        tokens = (
            await api.post("/v1/auth/token", data={"username": person.email, "password": PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        before = await api.get("/v1/me", headers=headers)

        await api.post("/v1/auth/revoke", json={"refresh_token": tokens["refresh_token"]})
        after = await api.get("/v1/me", headers=headers)

    assert before.status_code == 200
    assert after.status_code == 401


async def test_a_removed_member_and_a_revoked_key_lose_access_at_once(
    settings: Settings, clock: FrozenClock, factory: Factory
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    owner = await factory.person(organization, MemberRole.owner)
    member = await factory.person(organization, MemberRole.member)
    own = f"/v1/organizations/{organization.id}/members"

    async with serving(settings, clock) as api:
        created = await api.post(
            "/v1/api-keys",
            json={
                "organization_id": str(organization.id),
                "name": "成果管理系统",
                "scopes": ["organizations:read"],
            },
            headers=owner.headers,
        )
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        readable = f"/v1/organizations/{organization.id}"
        assert (await api.get(own, headers=member.headers)).status_code == 200
        assert (await api.get(readable, headers=key)).status_code == 200

        await api.delete(f"{own}/{member.user_id}", headers=owner.headers)
        await api.delete(f"/v1/api-keys/{created.json()['id']}", headers=owner.headers)
        member_after = await api.get(own, headers=member.headers)
        key_after = await api.get(readable, headers=key)

    assert member_after.status_code == 404
    assert key_after.status_code == 401


async def test_another_process_hears_the_change(
    settings: Settings, clock: FrozenClock, factory: Factory
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    owner = await factory.person(organization, MemberRole.owner)
    member = await factory.person(organization, MemberRole.member)
    own = f"/v1/organizations/{organization.id}/members"

    async with serving(settings, clock) as first, serving(settings, clock) as second:
        assert (await second.get(own, headers=member.headers)).status_code == 200

        removed = await first.delete(f"{own}/{member.user_id}", headers=owner.headers)
        heard = await _eventually(lambda: second.get(own, headers=member.headers), 404)

    assert removed.status_code == 204
    assert heard == 404


async def test_a_new_organization_is_the_creators_at_once(
    settings: Settings, clock: FrozenClock, factory: Factory
) -> None:
    person = await factory.person()
    async with serving(settings, clock) as api:
        assert (await api.get("/v1/me", headers=person.headers)).json()["memberships"] == []
        created = await api.post(
            "/v1/organizations",
            json={
                "kind": "enterprise",
                "name": "新建企业",
                "credit_code": "91110000600037341L",
                "division_code": "150203",
            },
            headers=person.headers,
        )
        members = await api.get(
            f"/v1/organizations/{created.json()['id']}/members", headers=person.headers
        )

    assert created.status_code == 201
    assert members.status_code == 200


async def test_what_me_shows_is_kept_and_follows_every_change_at_once(
    settings: Settings,
    clock: FrozenClock,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    agency = await factory.organization(OrganizationKind.enterprise)
    owner = await factory.person(agency, MemberRole.owner)
    member = await factory.person(agency, MemberRole.member)

    async with serving(settings, clock) as first, serving(settings, clock) as second:
        before = (await second.get("/v1/me", headers=member.headers)).json()
        # Changed behind the apps' back, without a notice: the process keeps what it read.
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(User).where(User.id == member.user_id).values(display_name="背后改名")
            )
        kept = (await second.get("/v1/me", headers=member.headers)).json()

        renamed = await first.patch(
            f"/v1/organizations/{agency.id}", json={"name": "改名后的企业"}, headers=owner.headers
        )
        names_heard = await _eventually_shows(
            lambda: second.get("/v1/me", headers=member.headers),
            lambda me: me["memberships"][0]["organization_name"] == "改名后的企业",
        )
        applied = await first.post(
            "/v1/brokers",
            json={"certificate_number": "NMJJR-CACHE-1", "level": "senior"},
            headers=member.headers,
        )
        profile_heard = await _eventually_shows(
            lambda: second.get("/v1/me", headers=member.headers),
            lambda me: me["broker_profile_id"] == applied.json()["id"],
        )
        in_the_same_process = (await first.get("/v1/me", headers=member.headers)).json()

    assert kept == before
    assert renamed.status_code == 200
    assert applied.status_code == 201, applied.text
    assert names_heard
    assert profile_heard
    assert in_the_same_process["broker_profile_id"] == applied.json()["id"]
    assert in_the_same_process["memberships"][0]["organization_name"] == "改名后的企业"


async def _eventually_shows(get: object, shows: object) -> bool:
    """Whether `get()`'s body `shows` what is wanted within 2 s."""
    for _ in range(40):
        if shows((await get()).json()):  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False

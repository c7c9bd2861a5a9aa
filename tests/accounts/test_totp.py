"""The second factor (`app/accounts/totp.py`): enrolled with a secret and recovery codes shown
once, confirmed with a code; a staff sign-in gets the `platform` scope only with a code, each
code once, each recovery code once; an organization's owners may require it of the members; an
admin resets another's factor; each step is in the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.accounts.totp import SEALING_PURPOSE
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.core.sealing import Sealer, Unreadable
from app.listings.models import ListingState
from tests.factories import PASSWORD, MarketFactory, Person


async def sign_in(client: httpx.AsyncClient, person: Person, **extra: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token", data={"username": person.email, "password": PASSWORD, **extra}
    )


async def enrolled(
    client: httpx.AsyncClient, person: Person, clock: FrozenClock
) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = await client.post("/v1/me/totp", headers=person.headers)
    assert enrolment.status_code == 200, enrolment.text
    totp = pyotp.TOTP(enrolment.json()["secret"])
    confirmed = await client.post(
        "/v1/me/totp/confirm", json={"code": totp.at(clock.now())}, headers=person.headers
    )
    assert confirmed.status_code == 204, confirmed.text
    return totp, enrolment.json()["recovery_codes"]


def bearer(answer: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_reviewer_acts_as_staff_only_after_a_second_factor(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    university = await factory.organization(OrganizationKind.university)
    listing = await factory.listing(university, state=ListingState.pending_review)
    totp, codes = await enrolled(client, reviewer, clock)
    clock.advance(timedelta(seconds=30))

    password_only = await sign_in(client, reviewer)
    refused = await client.post(f"/v1/listings/{listing.id}/approve", headers=bearer(password_only))
    with_code = await sign_in(client, reviewer, totp=totp.at(clock.now()))
    approved = await client.post(f"/v1/listings/{listing.id}/approve", headers=bearer(with_code))
    reused = await sign_in(client, reviewer, totp=totp.at(clock.now()))
    recovered = await sign_in(client, reviewer, totp=codes[0])
    spent = await sign_in(client, reviewer, totp=codes[0])

    assert password_only.status_code == 200
    assert "platform" not in password_only.json()["scope"].split()
    assert refused.status_code == 403
    assert "platform" in with_code.json()["scope"].split()
    assert approved.status_code == 200, approved.text
    assert reused.status_code == 401
    assert "platform" in recovered.json()["scope"].split()
    assert spent.status_code == 401


async def test_bad_codes_name_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    enrolment = await client.post("/v1/me/totp", headers=reviewer.headers)
    wrong = await client.post(
        "/v1/me/totp/confirm", json={"code": "000000"}, headers=reviewer.headers
    )
    malformed = await client.post(
        "/v1/me/totp/confirm", json={"code": "12ab56"}, headers=reviewer.headers
    )
    malformed_sign_in = await sign_in(client, reviewer, totp="12345")

    def fields(answer: httpx.Response) -> list[Any]:
        return [error["field"] for error in answer.json()["errors"]]

    assert enrolment.status_code == 200
    assert (wrong.status_code, fields(wrong)) == (422, ["body.code"])
    assert (malformed.status_code, fields(malformed)) == (422, ["body.code"])
    assert (malformed_sign_in.status_code, fields(malformed_sign_in)) == (422, ["body.totp"])


async def test_an_admin_resets_anothers_factor_and_the_trail_says_so(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    admin = await factory.staff(PlatformRole.admin)
    await enrolled(client, reviewer, clock)

    again = await client.post("/v1/me/totp", headers=reviewer.headers)
    by_reviewer = await client.delete(f"/v1/users/{admin.user_id}/totp", headers=reviewer.headers)
    own = await client.delete(f"/v1/users/{admin.user_id}/totp", headers=admin.headers)
    reset = await client.delete(f"/v1/users/{reviewer.user_id}/totp", headers=admin.headers)
    anew = await client.post("/v1/me/totp", headers=reviewer.headers)
    trail = (
        await client.get("/v1/audit-events", params={"object_type": "totp"}, headers=admin.headers)
    ).json()["items"]

    assert again.status_code == 409
    assert by_reviewer.status_code == 403
    assert own.status_code == 422
    assert reset.status_code == 204
    assert anew.status_code == 200
    assert sorted((e["action"], e["actor_user_id"]) for e in trail) == sorted(
        [
            ("totp.enrolled", str(reviewer.user_id)),
            ("totp.confirmed", str(reviewer.user_id)),
            ("totp.reset", str(admin.user_id)),
            ("totp.enrolled", str(reviewer.user_id)),
        ]
    )


async def test_each_sign_in_with_a_second_factor_is_in_the_trail(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    admin = await factory.staff(PlatformRole.admin)
    totp, codes = await enrolled(client, reviewer, clock)
    clock.advance(timedelta(seconds=30))

    with_code = await sign_in(client, reviewer, totp=totp.at(clock.now()))
    with_recovery = await sign_in(client, reviewer, totp=codes[3])
    trail = (
        await client.get(
            "/v1/audit-events", params={"action": "totp.verified"}, headers=admin.headers
        )
    ).json()["items"]

    assert with_code.status_code == with_recovery.status_code == 200
    assert sorted(
        (e["actor_user_id"], e["changes"]["method"], e["changes"].get("recovery_codes_left"))
        for e in trail
    ) == [
        (str(reviewer.user_id), "recovery_code", 9),
        (str(reviewer.user_id), "totp", None),
    ]
    assert {e["address"] for e in trail} == {"127.0.0.1"}


async def test_an_owner_requires_a_second_factor_of_the_members(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    owner = await factory.person(organization, MemberRole.owner)
    admin = await factory.person(organization, MemberRole.admin)
    member = await factory.person(organization, MemberRole.member)
    draft = await factory.listing(organization, state=ListingState.draft)
    require = {"second_factor_required": True}
    owner_totp, _ = await enrolled(client, owner, clock)
    member_totp, _ = await enrolled(client, member, clock)
    clock.advance(timedelta(seconds=30))

    without_own_factor = await client.patch(
        f"/v1/organizations/{organization.id}", json=require, headers=owner.headers
    )
    by_admin = await client.patch(
        f"/v1/organizations/{organization.id}", json=require, headers=admin.headers
    )
    owner_with_code = bearer(await sign_in(client, owner, totp=owner_totp.at(clock.now())))
    required = await client.patch(
        f"/v1/organizations/{organization.id}", json=require, headers=owner_with_code
    )
    # Sessions signed in with a password alone stop acting for it at once.
    password_only = await client.get(f"/v1/listings/{draft.id}", headers=member.headers)
    me_password_only = await client.get("/v1/me", headers=member.headers)
    with_code = await sign_in(client, member, totp=member_totp.at(clock.now()))
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": with_code.json()["refresh_token"]}
    )
    seen = await client.get(f"/v1/listings/{draft.id}", headers=bearer(with_code))
    seen_refreshed = await client.get(f"/v1/listings/{draft.id}", headers=bearer(refreshed))
    me_with_code = await client.get("/v1/me", headers=bearer(with_code))
    trail = (
        await client.get(
            "/v1/audit-events",
            params={"organization_id": str(organization.id), "action": "organization.updated"},
            headers=owner_with_code,
        )
    ).json()["items"]

    assert without_own_factor.status_code == 422
    assert without_own_factor.json()["errors"][0]["field"] == "body.second_factor_required"
    assert by_admin.status_code == 403
    assert required.status_code == 200, required.text
    assert required.json()["second_factor_required"] is True
    assert password_only.status_code == 404
    assert me_password_only.json()["second_factor"] is False
    [membership] = me_password_only.json()["memberships"]
    assert (membership["second_factor_required"], membership["active"]) == (True, False)
    assert seen.status_code == 200, seen.text
    assert refreshed.status_code == 200, refreshed.text
    assert seen_refreshed.status_code == 200
    assert me_with_code.json()["second_factor"] is True
    assert me_with_code.json()["memberships"][0]["active"] is True
    assert [(e["changes"]["second_factor_required"], e["before"]) for e in trail] == [
        (True, {"second_factor_required": False})
    ]


async def test_the_secret_is_stored_sealed(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reviewer = await factory.staff(PlatformRole.reviewer)
    totp, _ = await enrolled(client, reviewer, clock)

    async with sessionmaker() as session:
        stored = await session.scalar(
            text("SELECT sealed_secret FROM totp_factors WHERE user_id = :id"),
            {"id": reviewer.user_id},
        )
    other_key = Sealer("another deployment's SECRET_KEY", SEALING_PURPOSE)

    assert stored is not None
    assert totp.secret not in stored
    with pytest.raises(Unreadable):
        other_key.open(stored)

"""Platform staff's second factor (`app/accounts/totp.py`): enrolled with a secret and recovery
codes shown once, confirmed with a code; a staff sign-in gets the `platform` scope only with a
code, each code once, each recovery code once; an admin resets another's factor; each step is
in the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pyotp

from app.accounts.models import OrganizationKind
from app.core.auth import PlatformRole
from app.core.clock import FrozenClock
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

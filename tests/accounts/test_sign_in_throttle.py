"""Password guesses are throttled (`app/accounts/throttle.py`): waits that grow per account, a
lock after many, an address budget across accounts, and answers that never say whether an
account exists. Through the real app over HTTP, counted in the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts import throttle
from app.accounts.models import SignInFailure
from app.core.clock import FrozenClock
from app.core.outbox import OutboxEvent
from tests.factories import PASSWORD, Factory


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def failures_of(sessionmaker: async_sessionmaker[AsyncSession], subject: str) -> int:
    async with sessionmaker() as session:
        row = await session.get(SignInFailure, subject)
        return row.failures if row else 0


def test_the_waits_grow_then_lock() -> None:
    waits = [throttle.account_wait(n) for n in range(1, 22)]
    assert waits[:4] == [None] * 4
    assert waits[4:8] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert waits[18] == throttle.LONGEST_WAIT  # 19 failures: the longest wait
    assert waits[19] == waits[20] == throttle.LOCK


async def test_after_five_failures_the_next_try_waits_and_then_the_right_password_works(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    person = await factory.person()
    wrong = [await sign_in(client, person.email, f"wrong-{n}") for n in range(5)]
    waiting = await sign_in(client, person.email, PASSWORD)
    clock.advance(timedelta(seconds=2))
    right = await sign_in(client, person.email, PASSWORD)
    after = await sign_in(client, person.email, "wrong-again")

    assert [r.status_code for r in wrong] == [401] * 5
    assert waiting.status_code == 429
    assert waiting.headers["Retry-After"] == "1"
    assert waiting.json()["code"] == "sign_in_throttled"
    assert right.status_code == 200  # and forgives: one more typo costs nothing again
    assert after.status_code == 401


async def test_an_unknown_email_is_answered_exactly_as_a_known_one(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    known = [(await sign_in(client, person.email, "nope")).status_code for _ in range(6)]
    unknown = [(await sign_in(client, "nobody@example.cn", "nope")).status_code for _ in range(6)]

    assert known == unknown == [401] * 5 + [429]


async def test_twenty_failures_lock_password_sign_in_and_tell_the_person_but_sessions_stay(
    client: httpx.AsyncClient,
    factory: Factory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    person = await factory.person()
    for n in range(throttle.LOCK_FAILURES):
        if n:
            clock.advance(throttle.LONGEST_WAIT + timedelta(seconds=1))
        assert (await sign_in(client, person.email, f"guess-{n}")).status_code == 401
    locked = await sign_in(client, person.email, PASSWORD)
    session_still_works = await client.get("/v1/me", headers=person.headers)
    clock.advance(throttle.LOCK)
    unlocked = await sign_in(client, person.email, PASSWORD)
    async with sessionmaker() as session:
        told = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "account.sign_in_locked")
        )

    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 25 * 60
    assert session_still_works.status_code == 200
    assert unlocked.status_code == 200
    assert told == 1


async def test_concurrent_guesses_each_count(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    person = await factory.person()
    answers = await asyncio.gather(
        *(sign_in(client, person.email, f"parallel-{n}") for n in range(12))
    )

    assert {a.status_code for a in answers} <= {401, 429}
    counted = await failures_of(sessionmaker, throttle.account_subject(person.email))
    assert counted == sum(a.status_code == 401 for a in answers)
    assert counted >= throttle.FREE_FAILURES
    assert (await sign_in(client, person.email, PASSWORD)).status_code == 429


async def test_an_address_spraying_across_accounts_runs_out_of_budget(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The budget made small so the test does not hash fifty passwords; the rule is the same.
    monkeypatch.setattr(throttle, "ADDRESS_FAILURES", 6)
    person = await factory.person()
    sprayed = [
        (await sign_in(client, f"victim-{n}@example.cn", "Spring2026!")).status_code
        for n in range(6)
    ]
    refused = await sign_in(client, person.email, PASSWORD)

    assert sprayed == [401] * 6
    assert refused.status_code == 429
    assert await failures_of(sessionmaker, throttle.address_subject("127.0.0.1")) == 6


async def test_bad_refresh_tokens_and_api_keys_spend_the_address_budget(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": "made-up"})
    key = await client.get("/v1/me", headers={"Authorization": "Bearer tx_deadbeef_made-up-secret"})
    expired_token = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})

    assert refresh.status_code == 400
    assert key.status_code == 401
    assert expired_token.status_code == 401
    assert await failures_of(sessionmaker, throttle.address_subject("127.0.0.1")) == 2

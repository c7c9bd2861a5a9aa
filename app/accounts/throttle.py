"""Sign-in throttling: password guesses cost more with every failure, and an address spraying
guesses across accounts runs out of budget (OWASP API Security Top 10 2023, API2 "broken
authentication"; NIST SP 800-63B §5.2.2, "rate limiting": at most 100 consecutive failures
for an account).

Failures are counted in PostgreSQL, so every API process shares them (`sign_in_failures`, a
row per account and per address), each in a transaction of its own: the refused request rolls
back, its count stays. Thresholds (the note of issue 18 says why these):

- an account: the first `FREE_FAILURES` (5) consecutive failures cost nothing (typos); the
  5th and each next one make the next try wait 1 s, 2 s, 4 s … up to `LONGEST_WAIT` (15
  min); the `LOCK_FAILURES`-th (20th) locks password sign-in for `LOCK` (30 min) and tells the
  person (outbox `account.sign_in_locked`). Signed-in sessions stay valid. A success forgives.
- an address: `ADDRESS_FAILURES` (50) failures — passwords, refresh tokens, API keys — within
  `ADDRESS_WINDOW` (15 min) block it for the rest of the window.

An account is counted by its email whether it exists or not, and a blocked try is answered
before any password is checked, for every email alike: the answers (401, or 429 with
`Retry-After`) never tell whether an account exists.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import SignInFailure
from app.core.errors import DomainError
from app.core.outbox import record_event

FREE_FAILURES = 5
LOCK_FAILURES = 20
LONGEST_WAIT = timedelta(minutes=15)
LOCK = timedelta(minutes=30)
ADDRESS_FAILURES = 50
ADDRESS_WINDOW = timedelta(minutes=15)
FORGOTTEN_AFTER = timedelta(days=1)
"""Rows of no block and no failure for this long are purged (the worker, hourly)."""


class SignInThrottled(DomainError):
    status, code = 429, "sign_in_throttled"
    detail_code = "detail.sign_in_throttled"


def account_subject(email: str) -> str:
    # Hashed: guesses at addresses nobody registered are not kept as addresses.
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:64]


def address_subject(address: str) -> str:
    return f"address:{address}"[:80]


def account_wait(failures: int) -> timedelta | None:
    """How long an account's next try waits after `failures` consecutive failures."""
    if failures >= LOCK_FAILURES:
        return LOCK
    if failures >= FREE_FAILURES:
        return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), LONGEST_WAIT)
    return None


class SignInThrottle:
    """Checks and counts sign-in failures on sessions of their own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def check(self, subjects: list[str], now: datetime) -> None:
        """Raises SignInThrottled (429, `Retry-After`) while any of `subjects` must wait."""
        async with self.sessionmaker() as session:
            until = await session.scalar(
                select(func.max(SignInFailure.blocked_until)).where(
                    SignInFailure.subject.in_(subjects), SignInFailure.blocked_until > now
                )
            )
        if until is not None:
            seconds = max(1, math.ceil((until - now).total_seconds()))
            raise SignInThrottled(headers={"Retry-After": str(seconds)}, seconds=seconds)

    async def failed(
        self,
        *,
        address: str,
        now: datetime,
        account: str | None = None,
        user_id: uuid.UUID | None = None,
    ) -> None:
        """Count a failure of `address` (and of `account`); concurrent failures each count."""
        async with self.sessionmaker() as session, session.begin():
            if account is not None:
                row = await _locked(session, account, now)
                row.failures += 1
                row.last_failure_at = now
                wait = account_wait(row.failures)
                row.blocked_until = now + wait if wait else None
                if row.failures == LOCK_FAILURES and user_id is not None:
                    await record_event(
                        session,
                        "account.sign_in_locked",
                        {"user_id": str(user_id), "until": (now + LOCK).isoformat()},
                    )
            row = await _locked(session, address_subject(address), now)
            if row.last_failure_at < now - ADDRESS_WINDOW:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= ADDRESS_FAILURES:
                row.blocked_until = now + ADDRESS_WINDOW

    @staticmethod
    async def succeeded(session: AsyncSession, account: str) -> None:
        """Forgive an account's failures (its address keeps its own), in the sign-in's own
        transaction: a sign-in that fails later forgives nothing."""
        await session.execute(delete(SignInFailure).where(SignInFailure.subject == account))


async def _locked(session: AsyncSession, subject: str, now: datetime) -> SignInFailure:
    await session.execute(
        insert(SignInFailure)
        .values(subject=subject, failures=0, last_failure_at=now)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(SignInFailure).where(SignInFailure.subject == subject).with_for_update()
    )
    assert row is not None
    return row


async def purge_failures(session: AsyncSession, now: datetime) -> int:
    """Forget rows with no block left and no failure for `FORGOTTEN_AFTER`."""
    result = await session.execute(
        delete(SignInFailure).where(
            SignInFailure.last_failure_at < now - FORGOTTEN_AFTER,
            (SignInFailure.blocked_until.is_(None)) | (SignInFailure.blocked_until < now),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

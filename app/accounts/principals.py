"""Verified principals, kept by each process for a few seconds.

Every authenticated request needs its caller: verifying an access token's signature and reading
the person's memberships and staff roles (or an API key's row) took a third of an authenticated
read's time. A process keeps what it verified for `seconds` (5) at most, and never past the
credential's own expiry.

It keeps, likewise, what `GET /v1/me` shows of a person (account, memberships with their
organizations' names and kinds, broker profile), which changes only through the same notices:
a membership, an organization's name, a broker profile.

Nothing that takes rights away waits for that: a change to what a principal holds — a
membership made, changed or removed, staff roles, a revoked API key, a signed-out or revoked
token family — calls `announce_change` in its transaction, which sends a notice (NOTIFY)
delivered to every process when the transaction commits, and drops the entries of the process
that made it at once. A process caches only while it is listening: a lost listening connection
empties the cache and stops caching until it is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal, Resolver
from app.core.notices import NoticeListener
from app.core.reads import ReadPool

CHANNEL = "principals_changed"
SECONDS = 5.0
SIZE = 20_000
"""Entries kept at most; past it the cache starts over (a burst of new credentials, never a
leak)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    fresh_until: float
    """On the monotonic clock: how long this process trusts what it read."""
    expires_at: datetime | None
    """The credential's own expiry, on the wall clock requests are checked against."""


class PrincipalCache:
    """The principals this process verified lately, resolved through `resolve` otherwise."""

    def __init__(
        self,
        database_url: str,
        resolve: Resolver,
        *,
        seconds: float = SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self.seconds = seconds
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}
        self._by_subject: dict[str, set[str]] = {}
        self._descriptions: dict[str, tuple[dict[str, Any], float]] = {}
        self.listener = NoticeListener(
            database_url,
            CHANNEL,
            self.forget,
            on_connect=self._start_over,
            on_lost=self.clear,
        )

    async def start(self) -> None:
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()
        self.clear()

    def known(self, token: str, now: datetime) -> Principal | None:
        """The principal behind a bearer credential if this process verified it lately and
        still trusts it; None otherwise (which says nothing about the credential)."""
        entry = self._entries.get(token)
        if (
            entry is not None
            and entry.fresh_until > self._monotonic()
            and (entry.expires_at is None or now < entry.expires_at)
        ):
            return entry.principal
        return None

    async def resolve(self, reads: ReadPool, token: str, now: datetime) -> Principal | None:
        """The principal behind a bearer credential, or None when it is not valid (now)."""
        known = self.known(token, now)
        if known is not None:
            return known
        principal = await self._resolve(reads, token, now)
        if principal is not None and self.seconds > 0 and self.listener.listening:
            self._remember(token, principal)
        return principal

    def description(self, subject: str) -> dict[str, Any] | None:
        """What this process read lately of `subject` for `GET /v1/me`, while it trusts it."""
        kept = self._descriptions.get(subject)
        if kept is not None and kept[1] > self._monotonic():
            return kept[0]
        return None

    def remember_description(self, subject: str, description: dict[str, Any]) -> None:
        if self.seconds <= 0 or not self.listener.listening:
            return
        if len(self._descriptions) >= SIZE:
            self._descriptions.clear()
        self._descriptions[subject] = (description, self._monotonic() + self.seconds)

    def _remember(self, token: str, principal: Principal) -> None:
        if len(self._entries) >= SIZE:
            self.clear()
        subject = principal.subject
        self._entries[token] = _Entry(
            principal, self._monotonic() + self.seconds, principal.credential_expires_at
        )
        self._by_subject.setdefault(subject, set()).add(token)

    def forget(self, subject: str) -> None:
        """Drop what this process holds for `subject` (`user:<id>` or `api_key:<id>`)."""
        for token in self._by_subject.pop(subject, ()):
            self._entries.pop(token, None)
        self._descriptions.pop(subject, None)

    def clear(self) -> None:
        self._entries.clear()
        self._by_subject.clear()
        self._descriptions.clear()

    async def _start_over(self, connection: Any) -> None:
        # Notices sent while the connection was down were never heard.
        self.clear()


async def announce_change(session: AsyncSession, subject: str) -> None:
    """Tell every process that `subject`'s rights changed, when this transaction commits; the
    process running it forgets at once (the session's `principals`, set by the app)."""
    await session.execute(select(func.pg_notify(CHANNEL, subject)))
    cache: PrincipalCache | None = session.info.get("principals")
    if cache is not None:
        cache.forget(subject)

"""Rate limits per caller and class of routes (fixed one-minute windows), with `RateLimit-*`
headers and a 429 problem with `Retry-After`.

A caller is its API key, or the person behind a valid access token, or else its address. The
counts live in PostgreSQL (an UNLOGGED table: losing them in a crash only forgives a minute),
so every API process shares them — each process claims them in small blocks, so a busy caller
costs a write every few requests, not one each; the embedded default keeps them in memory, one
process being all there is. Classes: `search`, `writes` (every POST, PUT, PATCH and DELETE) and
`bids`; the numbers are the setting `RATE_LIMITS`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import BigInteger, Integer, String, bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import security
from app.core.auth import Principal, address_of, user_subject
from app.core.db import Base
from app.core.errors import (
    DATABASE_ERRORS,
    DomainError,
    database_unavailable,
    is_database_outage,
    send_problem,
)
from app.core.i18n import current_locale
from app.core.reads import PreparedRead, ReadPool

WINDOW_SECONDS = 60
DEFAULT_PER_MINUTE = 600
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RateLimited(DomainError):
    status, code = 429, "rate_limited"
    detail_code = "detail.rate_limited"


class RateLimitCounter(Base):
    """Requests of one caller and class of routes in one minute (shared by API processes)."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = ({"prefixes": ["UNLOGGED"]},)

    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """Minutes since the epoch."""
    count: Mapped[int] = mapped_column(Integer)


class Counters(Protocol):
    async def hit(self, buckets: Sequence[str], window: int, limits: Sequence[int]) -> list[int]:
        """Count one request in each bucket's window (whose budget is the limit at the same
        place); the request's place in each count, in order."""
        ...


@dataclass
class _Lease:
    """Places `next`…`last` of a bucket's count in one window, claimed by this process."""

    window: int
    next: int
    last: int


def _take_places(
    leases: dict[str, _Lease], buckets: Sequence[str], window: int
) -> tuple[list[int], dict[str, _Lease]]:
    """The next place of each bucket's lease (held: see the counters), and the leases with
    old windows forgotten once there are many, rather than growing without bound."""
    counts = []
    for bucket in buckets:
        lease = leases[bucket]
        counts.append(lease.next)
        lease.next += 1
    if len(leases) > 100_000:
        leases = {k: v for k, v in leases.items() if v.window == window}
    return counts, leases


class MemoryCounters:
    """One process's counts (the embedded default): each window's whole budget is its lease."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}

    async def hit(self, buckets: Sequence[str], window: int, limits: Sequence[int]) -> list[int]:
        for bucket in buckets:
            lease = self._leases.get(bucket)
            if lease is None or lease.window != window:
                self._leases[bucket] = _Lease(window, 1, sys.maxsize)
        counts, self._leases = _take_places(self._leases, buckets, window)
        return counts


BLOCKS_PER_WINDOW = 20
LARGEST_BLOCK = 10_000


def block_size(limit: int, claimed: int) -> int:
    """How much of a window's budget a process claims at once: a twentieth of the limit, less
    near its end (a tenth of what is left), one at a time from there on. Every request served
    was claimed in the shared count, so across processes a caller never gets more than the
    limit; a block another process has not used yet only makes a caller wait a little earlier
    (at most a twentieth of the limit per other process)."""
    return max(1, min(limit // BLOCKS_PER_WINDOW, (limit - claimed) // 10, LARGEST_BLOCK))


class PostgresCounters:
    """Counts shared by every API process, claimed in blocks (`block_size`): a request takes
    the next place of its process's block, and only a request finding its block used up
    claims another — one upsert for however many classes it spends (a bid spends `writes` and
    `bids`), a statement of its own on the read path (never the request's transaction: a
    rolled-back request still counts)."""

    def __init__(self, reads: ReadPool) -> None:
        self.reads = reads
        self._leases: dict[str, _Lease] = {}

    async def hit(self, buckets: Sequence[str], window: int, limits: Sequence[int]) -> list[int]:
        while True:
            wanted = {
                bucket: block_size(limit, self._claimed(bucket, window))
                for bucket, limit in zip(buckets, limits, strict=True)
                if not self._holds(bucket, window)
            }
            if not wanted:
                break
            # In one order for everyone, so two requests never wait on each other's rows.
            ordered = sorted(wanted)
            rows = await self.reads.all(
                _CLAIM, buckets=ordered, blocks=[wanted[b] for b in ordered], window=window
            )
            for row in rows:
                total, block = int(row["count"]), wanted[row["bucket"]]
                self._leases[row["bucket"]] = _Lease(window, total - block + 1, total)
            # Another request of this process may have used a block up meanwhile: look again.
        counts, self._leases = _take_places(self._leases, buckets, window)
        return counts

    def _holds(self, bucket: str, window: int) -> bool:
        lease = self._leases.get(bucket)
        return lease is not None and lease.window == window and lease.next <= lease.last

    def _claimed(self, bucket: str, window: int) -> int:
        lease = self._leases.get(bucket)
        return lease.last if lease is not None and lease.window == window else 0


_CLAIM = PreparedRead(
    text(
        """
        INSERT INTO rate_limit_counters (bucket, "window", count)
        SELECT bucket, :window, block
        FROM unnest(CAST(:buckets AS varchar[]), CAST(:blocks AS integer[]))
            WITH ORDINALITY AS claimed(bucket, block, position)
        ORDER BY position
        ON CONFLICT (bucket, "window") DO UPDATE
            SET count = rate_limit_counters.count + EXCLUDED.count
        RETURNING bucket, count
        """
    ).bindparams(bindparam("window", type_=BigInteger))
)


async def purge_counters(session: AsyncSession, wall_now: datetime) -> int:
    """Forget windows older than the last one (the worker does this every few minutes).
    Windows are wall time (`Clock.wall`)."""
    current = int(wall_now.timestamp() // WINDOW_SECONDS)
    result = await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window < current - 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def caller_of(request: Request, signing_key: str, now: datetime) -> str:
    """Whose budget a request spends: its API key (by the key's prefix), the person behind a
    valid access token, or its address. A forged token spends its sender's address budget, not
    its victim's. Asked once per request: by `WriteRateLimitMiddleware` or by the route's
    `RateLimit`, which counts every class the request spends."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential:
        prefix = security.api_key_prefix(credential)
        if prefix is not None:
            return f"api_key:{prefix}"
        # A person this process verified lately needs no second look at their token (its
        # signature check is a tenth of a bid's time).
        known: Principal | None = request.app.state.known_principal(credential, now)
        if known is not None:
            return known.subject
        claims = security.read_access_token(credential, now=now, key=signing_key)
        if claims is not None:
            return user_subject(claims.user_id)
    return "address:" + address_of(request)


async def spend(
    state: Any, route_classes: Sequence[str], caller: str, wall_now: datetime
) -> list[tuple[bytes, bytes]]:
    """Count one request of `caller` in each of `route_classes` on the app's counters at
    `wall_now` (`Clock.wall`: windows are wall time): the `RateLimit-*` headers of the first
    class to answer with, as ASGI sends them. Raises RateLimited (with `Retry-After`) past any
    class's budget."""
    now = wall_now.timestamp()
    window = int(now // WINDOW_SECONDS)
    limits = [
        state.settings.rate_limits.get(route_class, DEFAULT_PER_MINUTE)
        for route_class in route_classes
    ]
    counts = await state.rate_counters.hit(
        [f"{route_class}:{caller}" for route_class in route_classes], window, limits
    )
    reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    for per_minute, count in zip(limits, counts, strict=True):
        if count > per_minute:
            headers = _headers(per_minute, count, reset)
            raise RateLimited(headers={**headers, "Retry-After": str(reset)}, limit=per_minute)
    answered = _headers(limits[0], counts[0], reset)
    return [(name.lower().encode(), value.encode()) for name, value in answered.items()]


def _headers(per_minute: int, count: int, reset: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(per_minute),
        "RateLimit-Remaining": str(max(0, per_minute - count)),
        "RateLimit-Reset": str(reset),
    }


class RateLimit:
    """A route's dependency allowing `rate_limits[route_class]` requests a minute per caller
    (`search`, `bids`). A write route's dependency counts the `writes` class too, in the same
    statement (`WriteRateLimitMiddleware` leaves such routes to it: `own_class_routes`)."""

    def __init__(self, route_class: str) -> None:
        self.route_class = route_class

    async def __call__(self, request: Request, response: Response) -> None:
        state = request.app.state
        # Windows are wall time: a moved sandbox clock must not reset anybody's budget.
        now = state.clock.wall()
        caller = caller_of(request, state.signing_key, now)
        classes = [self.route_class]
        if request.method in WRITE_METHODS:
            classes.append("writes")
        response.headers.raw.extend(await spend(state, classes, caller, now))


def own_class_routes(routes: Iterable[BaseRoute]) -> list[tuple[frozenset[str], re.Pattern[str]]]:
    """The write routes that count their own class (a `RateLimit` dependency): their methods
    and path patterns, for `WriteRateLimitMiddleware` to leave their `writes` count to them."""
    return [
        (frozenset(route.methods or ()) & WRITE_METHODS, route.path_regex)
        for route in routes
        if isinstance(route, APIRoute)
        and frozenset(route.methods or ()) & WRITE_METHODS
        and any(isinstance(d.call, RateLimit) for d in route.dependant.dependencies)
    ]


class WriteRateLimitMiddleware:
    """The `writes` class — every POST, PUT, PATCH and DELETE — counted before routing, so
    reads pay nothing for it; but for routes with a class of their own (`bids`), whose
    dependency counts both in one statement and answers with its own headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        method, path = scope["method"], scope["path"]
        if any(
            method in methods and pattern.match(path) for methods, pattern in state.own_class_routes
        ):
            await self.app(scope, receive, send)
            return
        now = state.clock.wall()
        caller = caller_of(Request(scope), state.signing_key, now)
        try:
            encoded = await spend(state, ["writes"], caller, now)
        except RateLimited as error:
            await send_problem(send, error, current_locale.get(), scope["path"])
            return
        except DATABASE_ERRORS as error:
            # Outside FastAPI's handlers: answer an outage here, as they would.
            if not is_database_outage(error):
                raise
            await send_problem(send, database_unavailable(), current_locale.get(), scope["path"])
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and not any(
                name.lower() == b"ratelimit-limit" for name, _ in message["headers"]
            ):
                message["headers"] = [*message["headers"], *encoded]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def counters_for(storage: str, reads: ReadPool) -> Counters:
    return PostgresCounters(reads) if storage == "postgres" else MemoryCounters()

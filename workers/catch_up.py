"""The worker's due work, run in time order as a clock moves forward: when the sandbox clock
is moved, and through the demo market's year of history (`app.demo_history`).

A jump of sixteen days must leave the market as sixteen days would have: each window closed
when it ended, the auction it turned into opened three days later and closed a day after,
webhooks retried on their schedule, every period filed when it ended. So the clock does not
jump at once. It steps to the first instant something comes due, runs what is due there — the
same job code the worker runs — and steps again, until it reaches the target. The periodic
housekeeping then runs once for the whole jump, not once for every minute skipped (which is
what procrastinate's periodic deferrer would do if the system clock jumped).

Moves are serialized across processes by an advisory lock, so two concurrent moves run one
after the other and the work that came due runs once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions import closing as auctions_closing
from app.auctions.tasks import advance
from app.challenges import awards
from app.challenges.tasks import confirm_due_awards
from app.core import audit, idempotency, ratelimit
from app.core.auth import Principal
from app.core.clock import Clock, SandboxClock
from app.core.outbox import record_event
from app.listings import service as listings
from app.listings.tasks import close_due_windows
from app.payments.provider import PaymentProvider
from app.sandbox import service as sandbox
from app.sandbox.schemas import ClockMove
from app.tax import periods as tax_periods
from app.tax.tasks import file_period_end
from app.webhooks import service as webhooks
from app.webhooks.tasks import send_due_webhooks, webhook_client
from workers.app import queue_is_open, worker_app
from workers.registry import SUBSCRIBERS
from workers.relay import relay_pending


@dataclass(frozen=True)
class Ran:
    """One task that ran during a move, at the platform time it ran, and what it did."""

    at: datetime
    task: str
    count: int


@dataclass(frozen=True)
class ClockMoved:
    moved_from: datetime
    now: datetime
    ahead_by: timedelta
    ran: list[Ran]


Maker = async_sessionmaker[AsyncSession]


async def move_clock(
    maker: Maker,
    clock: SandboxClock,
    provider: PaymentProvider,
    principal: Principal,
    move: ClockMove,
    *,
    allow_private: bool,
) -> ClockMoved:
    """Move the platform clock as `move` says and run what came due on the way. Waits for a
    move under way elsewhere, then measures this one from where that one left the clock.
    Raises Forbidden (see `sandbox.require_clock_mover`), ValidationFailed (`target_of`).
    Webhooks go out as the worker sends them (`allow_private`: its setting)."""
    sandbox.require_clock_mover(principal)
    sandbox.target_of(move, clock.now())  # a bad move is refused without waiting
    async with maker() as guard, guard.begin():
        await sandbox.lock_moves(guard)
        clock.follow(await sandbox.stored_ahead_by(guard))
        moved_from, started_ahead_by = clock.now(), clock.ahead_by
        target = sandbox.target_of(move, moved_from)

        async def step_to(instant: datetime) -> None:
            await _store(maker, clock, clock.ahead_by_at(instant))

        with audit.as_the_clock():
            async with job_queue(), webhook_client(allow_private=allow_private) as http:
                ran = await run_until(maker, clock, step_to, provider, http, target)
                # The distance grows by exactly the move: the seconds the move itself took
                # pass on the platform too.
                await _store(maker, clock, started_ahead_by + (target - moved_from))
                ran += await run_due(maker, clock, provider, http, since=target, every=True)
        await record_event(
            guard,
            "sandbox.clock_moved",
            {"moved_from": moved_from.isoformat(), "now": clock.now().isoformat()},
            before={"now": moved_from},
        )
    return ClockMoved(moved_from, clock.now(), clock.ahead_by, ran)


@asynccontextmanager
async def job_queue() -> AsyncIterator[None]:
    """The job queue open for the subscribers (they defer jobs): this process's, when it runs
    a worker already, or opened for the while."""
    if queue_is_open():
        yield
    else:
        async with worker_app.open_async():
            yield


async def run_until(
    maker: Maker,
    clock: Clock,
    step_to: Callable[[datetime], Awaitable[None]],
    provider: PaymentProvider,
    http: httpx.AsyncClient | None,
    target: datetime,
) -> list[Ran]:
    """Run what is due now, then step the clock (`step_to`) to each instant in (now, target]
    at which something comes due and run it there, in time order; the clock ends at the last
    such instant (the caller takes it on to `target`). Without `http`, webhook deliveries are
    queued but left for a worker to send."""
    last = clock.now()
    ran = await run_due(maker, clock, provider, http, since=last, every=False)
    while (step := await _next_due(maker, clock.now(), target)) is not None:
        await step_to(step)
        ran += await run_due(maker, clock, provider, http, since=last, every=False)
        last = step
    return ran


async def _next_due(maker: Maker, after: datetime, until: datetime) -> datetime | None:
    """The first instant in (after, until] at which something comes due."""
    async with maker() as session:
        candidates = [
            await listings.next_window_end(session, after),
            await auctions_closing.next_step_after(session, after),
            await webhooks.next_attempt_after(session, after),
            await awards.next_publicity_end(session, after),
        ]
    candidates.append(tax_periods.next_period_end(after))
    return min((at for at in candidates if at is not None and at <= until), default=None)


async def _store(maker: Maker, clock: SandboxClock, ahead_by: timedelta) -> None:
    if ahead_by > clock.ahead_by:
        async with maker() as session, session.begin():
            await sandbox.store_ahead_by(session, clock, ahead_by)


async def run_due(
    maker: Maker,
    clock: Clock,
    provider: PaymentProvider,
    http: httpx.AsyncClient | None,
    *,
    since: datetime,
    every: bool,
) -> list[Ran]:
    """Run the work due now, as the worker's jobs would: events relayed, windows closed,
    auctions advanced, events relayed again (what those steps announced), webhooks sent, and
    the closed periods filed when one ended since `since`. With `every`, the periodic
    housekeeping too, and every task is reported, even one that found nothing to do."""
    at = clock.now()
    counts: Counter[str] = Counter()

    async def run(task: str, work: Callable[[], Awaitable[int]]) -> None:
        counts[task] += await work()

    async def auctions_due() -> int:
        async with maker() as session:
            due = await auctions_closing.due_auctions(session, at)
        for auction_id in due:
            await advance(maker, provider, auction_id, at)
        return len(due)

    async def purge_keys() -> int:
        async with maker() as session, session.begin():
            return await idempotency.purge_expired(session, clock.wall())

    async def purge_counters() -> int:
        async with maker() as session, session.begin():
            return await ratelimit.purge_counters(session, clock.wall())

    await run("relay_outbox", lambda: relay_pending(maker, clock.now, SUBSCRIBERS))
    await run("sweep_publication_windows", lambda: close_due_windows(maker, at))
    await run("sweep_auctions", auctions_due)
    await run("sweep_award_publicity", lambda: confirm_due_awards(maker, at))
    await run("relay_outbox", lambda: relay_pending(maker, clock.now, SUBSCRIBERS))
    if http is not None:
        await run("deliver_webhooks", lambda: send_due_webhooks(maker, http, clock))
    if every or tax_periods.next_period_end(since) <= at:
        await run("file_closed_periods", lambda: file_period_end(maker, at))
        await run("relay_outbox", lambda: relay_pending(maker, clock.now, SUBSCRIBERS))
    if every:
        await run("purge_idempotency_keys", purge_keys)
        await run("purge_rate_limit_counters", purge_counters)
    return [Ran(at, task, count) for task, count in counts.items() if every or count]

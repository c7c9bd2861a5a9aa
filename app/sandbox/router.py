"""HTTP routes of the sandbox clock; mounted only in sandbox mode (elsewhere they are a 404)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.clock import SandboxClock
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.payments.provider import Provider
from app.sandbox import service
from app.sandbox.auth import ClockMover, ClockRead
from app.sandbox.schemas import ClockMove, ClockMovedOut, ClockOut, RanOut
from workers import catch_up

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses=problem_responses(401, 403))


def _clock(request: Request) -> SandboxClock:
    clock: SandboxClock = request.app.state.clock
    return clock


@router.get("/clock", response_model=ClockOut, summary="Read the sandbox clock")
async def read_clock(request: Request, caller: ClockRead) -> ClockOut:
    """The platform's time in this sandbox, which every API process and worker shares, and how
    far it runs ahead of the system time."""
    clock = _clock(request)
    return ClockOut(now=clock.now(), ahead_by=service.iso_duration(clock.ahead_by))


@router.post(
    "/clock",
    response_model=ClockMovedOut,
    summary="Move the sandbox clock forward",
    responses=problem_responses(422),
)
async def move_clock(
    request: Request,
    provider: Provider,
    caller: ClockMover,
    idempotency: IdempotencyOf,
    body: ClockMove,
) -> ClockMovedOut:
    """Move the platform's time forward — `{"advance": "P16D"}` or `{"to": "…+08:00"}` — for
    every process, as Stripe's test clocks do, and run what came due on the way in time order:
    publication windows close, auctions open, close and settle, webhooks are sent and retried,
    closed periods are filed; the periodic housekeeping runs once for the jump. The answer
    lists what ran. Platform admins, or API keys with the `sandbox` scope. Moves wait for one
    another; the clock never goes back. Access tokens expire by this clock: sign in again after
    a long jump (API keys do not expire). Send `Idempotency-Key` so a retry does not move the
    clock twice."""
    await idempotency.claim(caller)
    moved = await catch_up.move_clock(
        request.app.state.sessionmaker,
        _clock(request),
        provider,
        caller,
        body,
        allow_private=request.app.state.settings.webhook_allow_private_urls,
    )
    answer = ClockMovedOut(
        now=moved.now,
        ahead_by=service.iso_duration(moved.ahead_by),
        moved_from=moved.moved_from,
        ran=[RanOut(at=ran.at, task=ran.task, count=ran.count) for ran in moved.ran],
    )
    return await idempotency.remember(answer, status_code=200)

"""Rules of the sandbox clock: who may move it, how far, and how the move is stored and told.

The clock is a distance ahead of the system time, one row in `sandbox_clock`. A move locks the
moves (one at a time, across processes), stores the larger distance and notifies the channel
every process follows (`ClockFollower`), in one short transaction each time it steps.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import PlatformRole, Principal
from app.core.clock import SandboxClock
from app.core.errors import Forbidden, ValidationFailed
from app.sandbox.models import SandboxClockSetting
from app.sandbox.schemas import ClockMove

CHANNEL = "sandbox_clock"
"""The NOTIFY channel: the payload is the new distance in microseconds."""
MAX_MOVE = timedelta(days=400)
"""The furthest one move may go: past a year of periods, short of an accident."""
_MOVE_LOCK = 0x73616E64626F78  # "sandbox": one move at a time, in every process
_DURATION = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def require_clock_mover(principal: Principal) -> None:
    """A platform admin, or an app whose key holds the `sandbox` scope (checked by the route),
    may move the clock; anyone else is Forbidden."""
    if principal.kind != "api_key" and not principal.has_platform_role(PlatformRole.admin):
        raise Forbidden(detail_code="detail.role_required", roles=PlatformRole.admin.value)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds (`P16D`, `PT2H30M`).
    Months and years are refused: their length depends on where they start. Raises
    ValidationFailed(body.advance) `duration_format`."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValidationFailed("body.advance", "duration_format")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    try:
        return timedelta(**parts)
    except OverflowError:
        raise ValidationFailed(
            "body.advance", "clock_move_too_far", max_days=MAX_MOVE.days
        ) from None


def iso_duration(delta: timedelta) -> str:
    """`delta` (not negative) as an ISO 8601 duration: `P16DT2H`, `PT0S`."""
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    fraction = f"{delta.microseconds:06d}".rstrip("0")
    parts = [
        f"{hours}H" if hours else "",
        f"{minutes}M" if minutes else "",
        f"{seconds}{'.' + fraction if fraction else ''}S" if seconds or fraction else "",
    ]
    time = "".join(parts)
    if not delta.days and not time:
        return "PT0S"
    return "P" + (f"{delta.days}D" if delta.days else "") + (f"T{time}" if time else "")


def target_of(move: ClockMove, now: datetime) -> datetime:
    """Where a move goes from `now`: forward, by at most `MAX_MOVE`. Raises ValidationFailed
    naming `body.advance` or `body.to`: `advance_or_to` (neither or both given),
    `duration_format`, `clock_forward_only`, `clock_move_too_far`."""
    if (move.advance is None) == (move.to is None):
        raise ValidationFailed("body.advance" if move.to is None else "body.to", "advance_or_to")
    field = "body.advance" if move.advance is not None else "body.to"
    target = now + parse_duration(move.advance) if move.advance is not None else move.to
    assert target is not None
    if target <= now:
        raise ValidationFailed(field, "clock_forward_only", now=now.isoformat())
    if target - now > MAX_MOVE:
        raise ValidationFailed(field, "clock_move_too_far", max_days=MAX_MOVE.days)
    return target


async def stored_ahead_by(session: AsyncSession) -> timedelta:
    """The distance stored for every process (none yet: zero)."""
    stored = await session.scalar(
        select(SandboxClockSetting.ahead_by).where(SandboxClockSetting.id == 1)
    )
    return stored if stored is not None else timedelta(0)


async def lock_moves(session: AsyncSession) -> None:
    """Wait for any other move to finish (held until the session's transaction ends)."""
    await session.execute(select(func.pg_advisory_xact_lock(_MOVE_LOCK)))


async def store_ahead_by(session: AsyncSession, clock: SandboxClock, ahead_by: timedelta) -> None:
    """Run the platform `ahead_by` the system time in every process: store the distance
    (never a smaller one), notify the followers, and move this process's clock at once."""
    statement = insert(SandboxClockSetting).values(id=1, ahead_by=ahead_by)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SandboxClockSetting.id],
            set_={"ahead_by": func.greatest(SandboxClockSetting.ahead_by, ahead_by)},
        )
    )
    microseconds = ahead_by // timedelta(microseconds=1)
    await session.execute(select(func.pg_notify(CHANNEL, str(microseconds))))
    clock.follow(ahead_by)

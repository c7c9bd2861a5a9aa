"""API shapes of the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ClockMove(BaseModel):
    """Move the platform clock forward: by a duration, or to an instant (exactly one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"advance": "P16D"}, {"to": "2027-01-05T09:00:00+08:00"}]},
    )

    advance: str | None = Field(
        default=None,
        max_length=40,
        description="An ISO 8601 duration in weeks, days, hours, minutes and seconds "
        "(`P16D`, `PT2H`, `P1DT12H`); months and years vary in length, so move `to` an "
        "instant instead. At most 400 days.",
        examples=["P16D"],
    )
    to: AwareDatetime | None = Field(
        default=None,
        description="The instant to move to, with its offset; later than the clock reads now and "
        "at most 400 days ahead.",
        examples=["2027-01-05T09:00:00+08:00"],
    )


class ClockOut(BaseModel):
    now: datetime = Field(description="The platform's time.")
    ahead_by: str = Field(
        description="How far the platform runs ahead of the system time, as an ISO 8601 duration.",
        examples=["P16DT2H"],
    )


class RanOut(BaseModel):
    at: datetime = Field(description="The platform time the task ran at.")
    task: str = Field(
        description="The worker's task: `relay_outbox` (events handed to subscribers: search, "
        "webhooks, rewards, filings), `sweep_publication_windows` (windows closed), "
        "`sweep_auctions` (auctions opened, closed or settled), `deliver_webhooks` (attempts), "
        "`file_closed_periods` (filings computed), `purge_idempotency_keys`, "
        "`purge_rate_limit_counters`.",
        examples=["sweep_auctions"],
    )
    count: int = Field(description="What it did: events, windows, auctions, attempts, filings.")


class ClockMovedOut(ClockOut):
    moved_from: datetime = Field(description="The platform's time before the move.")
    ran: list[RanOut] = Field(
        description="What came due and ran, in time order; each periodic task once at the end."
    )

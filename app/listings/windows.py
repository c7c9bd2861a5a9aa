"""The publication window (公示期), counted in whole days in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime

from app.core.clock import period_end


def window_end(published_at: datetime, days: int) -> datetime:
    """When a window of `days` days opened at `published_at` closes (UTC): the day of
    publication is not counted and the last day runs to 24:00 Beijing time (`period_end`)."""
    return period_end(published_at, days)

"""The publication window (公示期), counted in whole days in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from app.core.clock import BEIJING


def window_end(published_at: datetime, days: int) -> datetime:
    """When a window of `days` days opened at `published_at` closes (UTC).

    The day of publication is not counted and the last day runs to 24:00 (民法典 第二百零一条、
    第二百零三条): published any time on 1 March with 15 days, the window closes at the end of
    16 March, Beijing time.
    """
    if published_at.tzinfo is None:
        raise ValueError("published_at must be timezone-aware")
    first_day = published_at.astimezone(BEIJING).date()
    closing_day = first_day + timedelta(days=days + 1)
    return datetime.combine(closing_day, time(0), tzinfo=BEIJING).astimezone(UTC)

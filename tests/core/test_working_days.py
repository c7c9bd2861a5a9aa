"""Periods counted in working days (award publicity, 公示): holidays and the weekends worked in
lieu (调休) of the State Council's notice, the event's day not counted, the last day to 24:00
Beijing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.core.clock import BEIJING, day_start
from app.core.working_days import is_working_day, working_period_end


@pytest.mark.parametrize(
    ("published", "days", "last_day"),
    [
        # An ordinary week: Friday's award runs through the next Friday.
        (datetime(2026, 12, 4, 10, tzinfo=BEIJING), 5, date(2026, 12, 11)),
        # 01:00 Friday in Beijing is still Thursday in UTC: the Beijing day counts.
        (datetime(2026, 12, 4, 1, tzinfo=BEIJING), 5, date(2026, 12, 11)),
        # National Day (国办发明电〔2025〕7号): 1–7 October off, Saturday 10 October worked.
        (datetime(2026, 9, 30, 15, tzinfo=BEIJING), 5, date(2026, 10, 13)),
        # Spring Festival: Saturday 14 February worked, 15–23 February off.
        (datetime(2026, 2, 13, 9, tzinfo=BEIJING), 5, date(2026, 2, 27)),
        # Published on a holiday: counting starts at the next working day.
        (datetime(2026, 10, 3, 9, tzinfo=BEIJING), 1, date(2026, 10, 8)),
    ],
)
def test_a_period_ends_at_the_end_of_its_last_working_day(
    published: datetime, days: int, last_day: date
) -> None:
    assert working_period_end(published, days) == day_start(last_day + timedelta(days=1))


def test_days_off_and_days_worked_in_lieu() -> None:
    assert is_working_day(date(2026, 10, 10))  # a Saturday worked in lieu (调休)
    assert not is_working_day(date(2026, 10, 1))  # National Day
    assert not is_working_day(date(2026, 12, 5))  # a Saturday


def test_a_year_without_a_notice_counts_monday_to_friday() -> None:
    # No notice will cover 2100 for a long while: Friday 1 January 2100 is a working day there.
    assert date(2100, 1, 1).weekday() == 4
    assert is_working_day(date(2100, 1, 1))
    assert working_period_end(datetime(2099, 12, 31, 12, tzinfo=UTC), 2) == datetime(
        2100, 1, 4, 16, tzinfo=UTC
    )


def test_a_period_has_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least one"):
        working_period_end(datetime(2026, 12, 4, tzinfo=UTC), 0)

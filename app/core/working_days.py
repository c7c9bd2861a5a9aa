"""China's working days (工作日): Monday to Friday, less the public holidays (法定节假日), plus
the weekend days worked in lieu (调休), as the State Council's yearly notice sets them
(国务院办公厅关于 20XX 年部分节假日安排的通知). The table is the `chinesecalendar` package's, which
follows those notices; a year it does not know yet (the notice comes out each November) counts
Monday to Friday, so a period reaching into it may end a holiday or two early — upgrading the
package corrects it for periods that start afterwards."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar

from app.core.clock import beijing_date, day_start


def is_working_day(day: date) -> bool:
    """Whether people work on this Beijing calendar day."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package's table does not reach
        return day.weekday() < 5


def working_period_end(start: datetime, working_days: int) -> datetime:
    """When a period of `working_days` working days from an event at `start` ends (UTC): the
    day of the event is not counted, nor are days off, and the last working day runs to 24:00,
    Beijing time (民法典 第二百零一条、第二百零三条). An award published on Friday 2026-12-04 for
    5 working days is open to objections until the end of Friday 2026-12-11."""
    if working_days < 1:
        raise ValueError("a period lasts at least one working day")
    day, counted = beijing_date(start), 0
    while counted < working_days:
        day += timedelta(days=1)
        counted += is_working_day(day)
    return day_start(day + timedelta(days=1))

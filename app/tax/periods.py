"""Filing periods: years for the annual kinds, months (and for VAT quarters) for the others,
counted in Beijing time; which have closed by an instant and when the next one ends."""

from __future__ import annotations

import re
from datetime import datetime

from app.accounts.models import VatPeriod
from app.core.clock import beijing_time, month_start, next_month_start
from app.core.errors import ValidationFailed
from app.tax.models import FilingKind

ANNUAL = frozenset({FilingKind.eit_transfer_income, FilingKind.rd_super_deduction})


SUPPORTED = frozenset(FilingKind)


def period_bounds(kind: FilingKind, period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in Beijing time: `YYYY` for annual kinds, `YYYY-MM` for monthly
    ones, and for VAT also `YYYY-Qn` (quarterly filers). Raises ValidationFailed(period) for a
    malformed period."""
    annual = re.fullmatch(r"(20[0-9]{2})", period)
    monthly = re.fullmatch(r"(20[0-9]{2})-(0[1-9]|1[0-2])", period)
    quarterly = re.fullmatch(r"(20[0-9]{2})-Q([1-4])", period)
    if kind in ANNUAL and annual:
        year, month, months = int(annual[1]), 1, 12
    elif kind not in ANNUAL and monthly:
        year, month, months = int(monthly[1]), int(monthly[2]), 1
    elif kind == FilingKind.vat_exemption and quarterly:
        year, month, months = int(quarterly[1]), 3 * int(quarterly[2]) - 2, 3
    else:
        raise ValidationFailed("body.period", "period_format")
    return month_start(year, month), month_start(year, month + months)


def next_period_end(after: datetime) -> datetime:
    """The first end of a period after `after`: the next Beijing midnight that starts a month
    (every kind's periods — months, quarters, years — end on one)."""
    return next_month_start(after)


def vat_period_of(period: str) -> VatPeriod:
    """Whether a VAT period is a month or a quarter."""
    return VatPeriod.quarter if "-Q" in period else VatPeriod.month


def closed_periods(kind: FilingKind, now: datetime) -> list[str]:
    """The most recent periods of a kind that have ended by `now` (Beijing time): the last year
    or month, and for VAT also the last quarter."""
    local = beijing_time(now)
    if kind in ANNUAL:
        return [str(local.year - 1)]
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    periods = [f"{year}-{month:02d}"]
    if kind == FilingKind.vat_exemption:
        quarter = (local.month - 1) // 3
        periods.append(f"{local.year - 1}-Q4" if quarter == 0 else f"{local.year}-Q{quarter}")
    return periods

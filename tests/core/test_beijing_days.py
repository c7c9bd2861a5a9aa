"""Every year, month and day taken from an instant is a Beijing one: at 2026-12-31T16:00:00Z it
is already 2027 in Beijing, at 15:59:59Z still 2026; likewise on a month's last day at 16:00Z."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.brokers import service as rewards
from app.core.auth import PlatformRole
from app.core.clock import FrozenClock, beijing_date, month_start, next_month_start, period_end
from app.listings.windows import window_end
from app.tax import periods as tax_periods
from app.tax.models import FilingKind
from tests.brokers.test_rewards_api import parties as reward_parties
from tests.brokers.test_rewards_api import registered_deal
from tests.deals.test_deals_api import (
    off_platform_deal,
    parties,
    pay_everything,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory

LAST_UTC_SECOND_OF_2026 = datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)
FIRST_BEIJING_SECOND_OF_2027 = datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)
NOVEMBER_30_MIDNIGHT = datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC)  # 1 December in Beijing


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (LAST_UTC_SECOND_OF_2026, date(2026, 12, 31)),
        (FIRST_BEIJING_SECOND_OF_2027, date(2027, 1, 1)),
        (NOVEMBER_30_MIDNIGHT - timedelta(seconds=1), date(2026, 11, 30)),
        (NOVEMBER_30_MIDNIGHT, date(2026, 12, 1)),
    ],
)
def test_the_day_of_an_instant_is_its_beijing_day(instant: datetime, day: date) -> None:
    assert beijing_date(instant) == day


@pytest.mark.parametrize(
    ("instant", "kind", "closed"),
    [
        (LAST_UTC_SECOND_OF_2026, FilingKind.eit_transfer_income, ["2025"]),
        (FIRST_BEIJING_SECOND_OF_2027, FilingKind.eit_transfer_income, ["2026"]),
        (LAST_UTC_SECOND_OF_2026, FilingKind.vat_exemption, ["2026-11", "2026-Q3"]),
        (FIRST_BEIJING_SECOND_OF_2027, FilingKind.vat_exemption, ["2026-12", "2026-Q4"]),
        (
            NOVEMBER_30_MIDNIGHT - timedelta(seconds=1),
            FilingKind.researcher_reward_relief,
            ["2026-10"],
        ),
        (NOVEMBER_30_MIDNIGHT, FilingKind.researcher_reward_relief, ["2026-11"]),
    ],
)
def test_tax_periods_close_at_beijing_midnight(
    instant: datetime, kind: FilingKind, closed: list[str]
) -> None:
    assert tax_periods.closed_periods(kind, instant) == closed


@pytest.mark.parametrize(
    ("kind", "period", "start", "end"),
    [
        (
            FilingKind.eit_transfer_income,
            "2026",
            datetime(2025, 12, 31, 16, tzinfo=UTC),
            FIRST_BEIJING_SECOND_OF_2027,
        ),
        (FilingKind.vat_exemption, "2026-12", NOVEMBER_30_MIDNIGHT, FIRST_BEIJING_SECOND_OF_2027),
        (
            FilingKind.vat_exemption,
            "2026-Q4",
            datetime(2026, 9, 30, 16, tzinfo=UTC),
            FIRST_BEIJING_SECOND_OF_2027,
        ),
        (
            FilingKind.researcher_reward_relief,
            "2026-11",
            datetime(2026, 10, 31, 16, tzinfo=UTC),
            NOVEMBER_30_MIDNIGHT,
        ),
    ],
)
def test_a_period_runs_from_beijing_midnight_to_beijing_midnight(
    kind: FilingKind, period: str, start: datetime, end: datetime
) -> None:
    assert tax_periods.period_bounds(kind, period) == (start, end)


@pytest.mark.parametrize(
    ("opened", "days", "closes"),
    [
        # The day of the event is not counted; the last day runs to 24:00 Beijing.
        (LAST_UTC_SECOND_OF_2026, 15, datetime(2027, 1, 15, 16, tzinfo=UTC)),
        (FIRST_BEIJING_SECOND_OF_2027, 15, datetime(2027, 1, 16, 16, tzinfo=UTC)),
        (NOVEMBER_30_MIDNIGHT - timedelta(seconds=1), 1, datetime(2026, 12, 1, 16, tzinfo=UTC)),
        (NOVEMBER_30_MIDNIGHT, 1, datetime(2026, 12, 2, 16, tzinfo=UTC)),
    ],
)
def test_windows_and_claim_deadlines_end_at_beijing_midnight(
    opened: datetime, days: int, closes: datetime
) -> None:
    assert window_end(opened, days) == period_end(opened, days) == closes


def test_months_and_payout_periods_start_at_beijing_midnight() -> None:
    assert month_start(2026, 13) == FIRST_BEIJING_SECOND_OF_2027
    assert next_month_start(LAST_UTC_SECOND_OF_2026) == FIRST_BEIJING_SECOND_OF_2027
    assert next_month_start(FIRST_BEIJING_SECOND_OF_2027) == datetime(2027, 1, 31, 16, tzinfo=UTC)
    assert next_month_start(NOVEMBER_30_MIDNIGHT - timedelta(seconds=1)) == NOVEMBER_30_MIDNIGHT


@pytest.mark.parametrize(
    ("registered", "number_year", "policy_year", "stats_month"),
    [
        (LAST_UTC_SECOND_OF_2026, "2026", 2026, "2026-12"),
        (FIRST_BEIJING_SECOND_OF_2027 + timedelta(minutes=26), "2027", 2027, "2027-01"),
    ],
)
async def test_a_contract_registered_across_new_year_belongs_to_its_beijing_year(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    registered: datetime,
    number_year: str,
    policy_year: int,
    stats_month: str,
) -> None:
    """Registration number series, reward policy year and statistics month (the bug: at
    2027-01-01 00:26 Beijing the 2026 series went on)."""
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p, price_fen=50_000_000)
    clock.set(registered)
    response = await sign_and_register(
        client, deal_id, p, await factory.staff(PlatformRole.registrar), terms("500000")
    )
    await pay_everything(client, deal_id, p, await factory.staff(PlatformRole.finance))
    claim = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    staff = await factory.staff(PlatformRole.reviewer)
    stats = (
        await client.get(
            f"/v1/stats/indicators?period_from={stats_month}&period_to={stats_month}",
            headers=staff.headers,
        )
    ).json()

    assert response.status_code == 200, response.text
    assert response.json()["registration_number"].startswith(number_year + "150203")
    assert claim.status_code == 201, claim.text
    assert claim.json()["policy_year"] == policy_year
    assert [cell["key"] for cell in stats["by_month"]] == [stats_month]


async def test_payout_periods_end_at_beijing_midnight(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A reward computed at 16:00Z on 31 December belongs to January's payout, not December's."""
    p = await reward_parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    clock.set(LAST_UTC_SECOND_OF_2026 - timedelta(hours=1))
    deal_id = await registered_deal(client, factory, p, "1000000")
    claim = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    await client.post(f"/v1/broker-claims/{claim.json()['id']}/approve", headers=reviewer.headers)
    clock.set(FIRST_BEIJING_SECOND_OF_2027)
    async with sessionmaker() as session, session.begin():
        await rewards.compute_rewards(session, uuid.UUID(deal_id), now=clock.now())
    clock.set(datetime(2027, 2, 2, 2, tzinfo=UTC))

    december = await client.post("/v1/payouts", json={"period": "2026-12"}, headers=finance.headers)
    january = await client.post("/v1/payouts", json={"period": "2027-01"}, headers=finance.headers)

    assert december.json() == []
    assert [payout["amount"]["amount"] for payout in january.json()] == ["100000.00"]

"""Transfer agencies' post-subsidy (服务方后补助, 内科发成字〔2021〕12号): an agency the region
recognized applies once a year for a year its evaluation passed; the reward engine computes it
on the 技术交易额 its brokers brought about (rate tiers, the evaluation's score band, the year
cap), the reviewers approve it and finance pays it like every reward."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.brokers.policies import policy_in_force
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import BEIJING, FrozenClock
from tests.auctions.test_auctions_api import cny
from tests.brokers.test_agency_evaluation import PASSING
from tests.conftest import later
from tests.deals.test_deals_api import off_platform_deal, parties, sign_and_register, terms
from tests.factories import MarketFactory
from tests.market import relay_events

FAILING = {**PASSING, "service_performance": "5", "service_capacity": "2"}  # 40
EXCELLENT = {**PASSING, "service_performance": "30", "service_capacity": "30"}  # 93


async def test_a_recognized_agency_is_subsidized_by_its_score_band_and_paid_once(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency, division_code="150102")
    owner = await factory.person(agency, MemberRole.owner)
    broker = await factory.broker(await factory.person(agency), agency=agency)
    unrecognized = await factory.organization(OrganizationKind.transfer_agency)
    unrecognized_owner = await factory.person(unrecognized, MemberRole.owner)
    registrar = await factory.staff(PlatformRole.registrar)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    await client.post(
        f"/v1/organizations/{agency.id}/agency-recognitions",
        json={"valid_from": "2026-01-01", "valid_until": "2027-12-31"},
        headers=reviewer.headers,
    )
    p = await parties(factory)
    deal = await off_platform_deal(factory, p)
    await client.put(
        f"/v1/deals/{deal}/brokers",
        json={"broker_ids": [str(broker.id)]},
        headers=p.seller_owner.headers,
    )
    await sign_and_register(client, deal, p, registrar, terms("12000000"))
    application = {"kind": "agency", "year": 2026}
    evaluation = f"/v1/organizations/{agency.id}/agency-evaluations/2026"

    too_early = await client.post("/v1/broker-claims", json=application, headers=owner.headers)
    later(clock, days=62)  # into January 2027
    not_evaluated = await client.post("/v1/broker-claims", json=application, headers=owner.headers)
    await client.put(evaluation, json={"scores": FAILING}, headers=reviewer.headers)
    failed = await client.post("/v1/broker-claims", json=application, headers=owner.headers)
    await client.put(evaluation, json={"scores": PASSING}, headers=reviewer.headers)  # 79.5
    not_recognized = await client.post(
        "/v1/broker-claims", json=application, headers=unrecognized_owner.headers
    )
    with_a_deal = await client.post(
        "/v1/broker-claims", json={**application, "deal_id": deal}, headers=owner.headers
    )
    filed = await client.post("/v1/broker-claims", json=application, headers=owner.headers)
    again = await client.post("/v1/broker-claims", json=application, headers=owner.headers)

    assert too_early.json()["errors"][0]["code"] == "year_not_over"
    assert not_evaluated.json()["errors"][0] == {
        "field": "body.year",
        "code": "not_evaluated",
        "message": not_evaluated.json()["errors"][0]["message"],
    }
    assert failed.json()["errors"][0]["code"] == "evaluation_not_passed"
    assert "40" in failed.json()["errors"][0]["message"]
    assert not_recognized.json()["errors"][0]["field"] == "body.organization_id"
    assert not_recognized.json()["errors"][0]["code"] == "not_recognized"
    assert with_a_deal.status_code == 422
    assert filed.status_code == 201, filed.text
    claim = filed.json()
    assert (claim["kind"], claim["deal_id"], claim["state"]) == ("agency", None, "confirmed")
    assert claim["policy_code"] == "nm-agency-post-subsidy-example"
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.year"

    by_outsider = await client.get(f"/v1/broker-claims/{claim['id']}", headers=outsider.headers)
    confirmed_by_owner = await client.post(
        f"/v1/broker-claims/{claim['id']}/confirm", headers=owner.headers
    )
    approved = await client.post(
        f"/v1/broker-claims/{claim['id']}/approve", headers=reviewer.headers
    )
    await relay_events(sessionmaker, clock)
    reward = (await client.get("/v1/rewards", headers=owner.headers)).json()

    assert by_outsider.status_code == 404
    assert confirmed_by_owner.status_code == 409
    assert approved.json()["state"] == "approved", approved.text
    # (1 % × 10,000,000 + 0.5 % × 2,000,000) × the 75-point band's 80 %
    assert [r["amount"] for r in reward] == [cny("88000.00")]
    working = reward[0]["working"]
    assert [line["rate"] for line in working["lines"]] == ["0.01", "0.005"]
    assert working["share"] == "80"
    assert working["basis"]["brokered_fen"] == 12_000_000_00
    assert working["basis"]["evaluation_total"] == "79.50"
    assert "内科发成字〔2021〕12号" in working["source"]

    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    paid = await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)
    # A re-evaluation moves the subsidy by an adjustment; what was paid stays paid.
    await client.put(evaluation, json={"scores": EXCELLENT}, headers=reviewer.headers)
    await relay_events(sessionmaker, clock)
    after = (await client.get("/v1/rewards", headers=owner.headers)).json()
    ytd = await client.get("/v1/rewards/year-to-date?year=2026", headers=owner.headers)

    assert [(x["organization_id"], x["amount"]) for x in paid.json()] == [
        (str(agency.id), cny("88000.00"))
    ]
    assert (after[0]["amount"], after[0]["paid"]) == (cny("110000.00"), cny("88000.00"))
    assert ytd.json() == [
        {
            "policy_code": "nm-agency-post-subsidy-example",
            "year": 2026,
            "total": cny("110000.00"),
            "paid": cny("88000.00"),
            "year_cap": cny("500000.00"),
        }
    ]


@pytest.mark.parametrize(
    ("total", "percent"),
    [("100", "100"), ("90", "100"), ("89.99", "80"), ("75", "80"), ("60", "60"), ("59.99", None)],
)
def test_the_score_bands_pay_the_highest_band_reached(total: str, percent: str | None) -> None:
    policy = policy_in_force("nm-agency-post-subsidy-example", date(2026, 12, 31))
    assert policy is not None
    assert policy.band_percent(Decimal(total)) == (None if percent is None else Decimal(percent))

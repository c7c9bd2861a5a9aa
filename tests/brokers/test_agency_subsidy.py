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
from app.brokers.agency_subsidy import split
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
            "broker_id": None,
            "organization_id": str(agency.id),
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


@pytest.mark.parametrize(
    ("amount", "percents", "parts"),
    [
        (10_000, ["30", "20"], [3_000, 2_000]),
        (1, ["50", "50"], [1, 0]),  # the odd fen to the earlier of equal remainders
        (3, ["33.33", "33.33", "33.34"], [1, 1, 1]),
        (101, ["33.33", "33.33"], [34, 33]),
        (0, ["100"], [0]),
        (500, [], []),
    ],
)
def test_a_split_never_makes_or_loses_a_fen(
    amount: int, percents: list[str], parts: list[int]
) -> None:
    computed = split(amount, [Decimal(p) for p in percents])
    assert computed == parts
    assert amount - sum(computed) >= 0


async def test_an_agency_passes_part_of_its_subsidy_to_its_brokers(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency, division_code="150102")
    owner = await factory.person(agency, MemberRole.owner)
    member = await factory.person(agency)
    first = await factory.broker(member, agency=agency)
    second_person = await factory.person(agency)
    second = await factory.broker(second_person, agency=agency)
    elsewhere = await factory.broker(
        await factory.person(await factory.organization(OrganizationKind.transfer_agency))
    )
    registrar = await factory.staff(PlatformRole.registrar)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    await client.post(
        f"/v1/organizations/{agency.id}/agency-recognitions",
        json={"valid_from": "2026-01-01", "valid_until": "2027-12-31"},
        headers=reviewer.headers,
    )
    p = await parties(factory)
    deal = await off_platform_deal(factory, p)
    await client.put(
        f"/v1/deals/{deal}/brokers", json={"broker_ids": [str(first.id)]},
        headers=p.seller_owner.headers,
    )  # fmt: skip
    await sign_and_register(client, deal, p, registrar, terms("1000000"))
    later(clock, days=62)
    await client.put(
        f"/v1/organizations/{agency.id}/agency-evaluations/2026",
        json={"scores": EXCELLENT},
        headers=reviewer.headers,
    )
    claim = (
        await client.post(
            "/v1/broker-claims", json={"kind": "agency", "year": 2026}, headers=owner.headers
        )
    ).json()
    await client.post(f"/v1/broker-claims/{claim['id']}/approve", headers=reviewer.headers)
    url = f"/v1/broker-claims/{claim['id']}/broker-shares"

    over = await client.put(
        url, json={"shares": {str(first.id): "60", str(second.id): "40.01"}},
        headers=owner.headers,
    )  # fmt: skip
    foreign = await client.put(
        url, json={"shares": {str(elsewhere.id): "10"}}, headers=owner.headers
    )
    by_member = await client.put(
        url, json={"shares": {str(first.id): "10"}}, headers=member.headers
    )
    declared = await client.put(
        url, json={"shares": {str(first.id): "30", str(second.id): "20"}},
        headers=owner.headers,
    )  # fmt: skip
    await relay_events(sessionmaker, clock)
    agency_rewards = (await client.get("/v1/rewards", headers=owner.headers)).json()
    firsts = (await client.get("/v1/rewards", headers=member.headers)).json()

    assert over.status_code == 422
    assert (over.json()["errors"][0]["field"], over.json()["errors"][0]["code"]) == (
        "body.shares",
        "shares_over_100",
    )
    assert foreign.json()["errors"][0]["field"] == f"body.shares.{elsewhere.id}"
    assert by_member.status_code == 403
    assert declared.status_code == 200, declared.text
    assert {s["broker_id"]: Decimal(s["share"]) for s in declared.json()} == {
        str(first.id): 30,
        str(second.id): 20,
    }
    # 1 % × 1,000,000 at the 90-point band's 100 % = 10,000: 3,000 + 2,000 to the brokers.
    amounts = {r["claim"]["kind"] + (r["claim"]["broker_id"] or ""): r["amount"]
               for r in agency_rewards}  # fmt: skip
    assert amounts == {
        "agency": cny("5000.00"),
        f"agency_share{first.id}": cny("3000.00"),
        f"agency_share{second.id}": cny("2000.00"),
    }
    own = next(r for r in agency_rewards if r["claim"]["kind"] == "agency")
    assert own["working"]["agency_reward_fen"] == 10_000_00
    assert own["working"]["passed_to_brokers_fen"] == 5_000_00
    # The split is the agency's to see: its members see every share, outsiders none.
    assert len(firsts) == 3
    mine = [r for r in firsts if r["claim"]["broker_id"] == str(first.id)]
    assert [r["amount"] for r in mine] == [cny("3000.00")]
    assert mine[0]["claim"]["agency_claim_id"] == claim["id"]

    # A new split: the second broker is left out and adjusted to nothing; payouts pay each.
    await client.put(url, json={"shares": {str(first.id): "40"}}, headers=owner.headers)
    await relay_events(sessionmaker, clock)
    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    paid = await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)
    ytd = await client.get("/v1/rewards/year-to-date?year=2026", headers=member.headers)
    seconds = (await client.get("/v1/rewards", headers=second_person.headers)).json()

    assert sorted(
        (x["broker_id"] or x["organization_id"], x["amount"]["amount"]) for x in paid.json()
    ) == sorted([(str(first.id), "4000.00"), (str(agency.id), "6000.00")])
    # A broker's year-to-date is their own: the agency's rest is the agency's (its members'
    # view lists it apart, under the agency), and the agency's cap is not theirs.
    assert sorted(
        (y["broker_id"] or y["organization_id"], y["total"]["amount"], y["year_cap"])
        for y in ytd.json()
    ) == sorted(
        [(str(first.id), "4000.00", None),
         (str(agency.id), "6000.00", cny("500000.00"))]
    )  # fmt: skip
    second_share = [r for r in seconds if r["claim"]["broker_id"] == str(second.id)]
    assert [r["amount"] for r in second_share] == [cny("0.00")]

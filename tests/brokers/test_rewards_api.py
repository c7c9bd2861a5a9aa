"""Reward claims, review, computation and payouts through the API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.brokers import policies
from app.brokers import service as rewards
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import BEIJING, FrozenClock
from app.core.money import Money
from tests.auctions.test_auctions_api import cny
from tests.deals.test_deals_api import (
    Parties,
    off_platform_deal,
    pay_everything,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory, Person
from tests.market import relay_events

YUAN = 100


async def registered_deal(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    p: Parties,
    total: str,
    *,
    paid: bool = True,
) -> str:
    deal_id = await off_platform_deal(factory, p, price_fen=Money.yuan(total).fen)
    half = str(Money.yuan(total).amount / 2)
    registrar = await factory.staff(PlatformRole.registrar)
    response = await sign_and_register(
        client, deal_id, p, registrar, terms(total, milestones=[half, half])
    )
    assert response.status_code == 200, response.text
    if paid:
        await pay_everything(client, deal_id, p, await factory.staff(PlatformRole.finance))
    return deal_id


async def parties(factory: MarketFactory) -> Parties:
    seller = await factory.organization(OrganizationKind.university, division_code="150203")
    buyer = await factory.organization(division_code="150102")
    return Parties(
        seller,
        buyer,
        await factory.person(seller, MemberRole.owner),
        await factory.person(buyer, MemberRole.owner),
    )


async def compute(
    sessionmaker: async_sessionmaker[AsyncSession], deal_id: str, clock: FrozenClock
) -> None:
    async with sessionmaker() as session, session.begin():
        await rewards.compute_rewards(session, uuid.UUID(deal_id), now=clock.now())


async def broker(factory: MarketFactory, agency: Any = None) -> Person:
    person = await factory.person()
    await factory.broker(person, agency=agency)
    return person


async def claim(
    client: httpx.AsyncClient, person: Person, deal_id: str, share: str, role: str = "matching"
) -> httpx.Response:
    return await client.post(
        "/v1/broker-claims",
        json={"kind": "broker", "deal_id": deal_id, "role": role, "share": share},
        headers=person.headers,
    )


# --- the buyer's post-subsidy, end to end -------------------------------------------------------


async def test_a_buyer_applies_for_the_inner_mongolia_post_subsidy_and_is_paid_once(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    deal_id = await registered_deal(client, factory, p, "6000000")

    applied = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    again = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    approved = await client.post(
        f"/v1/broker-claims/{applied.json()['id']}/approve", headers=reviewer.headers
    )
    await relay_events(sessionmaker, clock)  # the worker computes on claim.approved
    reward = (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()

    assert applied.status_code == 201, applied.text
    assert applied.json()["policy_code"] == "nm-buyer-post-subsidy"
    assert applied.json()["state"] == "confirmed"
    assert again.status_code == 409
    assert approved.json()["state"] == "approved"
    # 10 % × 1,000,000 + 5 % × 4,000,000 + 3 % × 1,000,000
    assert reward[0]["amount"] == cny("330000.00")
    assert [line["rate"] for line in reward[0]["working"]["lines"]] == ["0.10", "0.05", "0.03"]
    assert "内科发成字〔2021〕12号" in reward[0]["working"]["source"]

    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    paid = await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)
    twice = await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)
    ytd = await client.get(
        f"/v1/rewards/year-to-date?year={clock.now().year}", headers=p.buyer_owner.headers
    )

    assert [x["amount"] for x in paid.json()] == [cny("330000.00")]
    assert paid.json()[0]["organization_id"] == str(p.buyer.id)
    assert twice.json() == []
    assert ytd.json() == [
        {
            "policy_code": "nm-buyer-post-subsidy",
            "year": 2026,
            "broker_id": None,
            "organization_id": str(p.buyer.id),
            "total": cny("330000.00"),
            "paid": cny("330000.00"),
            "year_cap": None,
        }
    ]


async def test_pro_rata_rewards_grow_with_the_money_received_by_adjustments(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    deal_id = await registered_deal(client, factory, p, "1000000", paid=False)
    first = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    await client.post(f"/v1/payments/{first.json()['id']}/confirm", headers=finance.headers)
    applied = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    await client.post(f"/v1/broker-claims/{applied.json()['id']}/approve", headers=reviewer.headers)
    await compute(sessionmaker, deal_id, clock)
    half = (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()[0]
    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)

    clock.advance(timedelta(days=40))
    second = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 2}, headers=p.buyer_owner.headers
    )
    await client.post(f"/v1/payments/{second.json()['id']}/confirm", headers=finance.headers)
    await compute(sessionmaker, deal_id, clock)
    await compute(sessionmaker, deal_id, clock)  # idempotent: nothing more
    whole = (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()[0]
    later = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    paid = await client.post("/v1/payouts", json={"period": later}, headers=finance.headers)

    assert (half["amount"], half["working"]["received_fen"]) == (cny("50000.00"), 50_000_000)
    assert (whole["amount"], whole["paid"]) == (cny("100000.00"), cny("50000.00"))
    assert [x["amount"] for x in paid.json()] == [cny("50000.00")]  # only the adjustment
    async with sessionmaker() as session:
        entries = (
            await session.execute(
                text("SELECT amount_fen, total_fen FROM reward_entries ORDER BY computed_at")
            )
        ).all()
        with pytest.raises(DBAPIError, match="fixed once written"):
            await session.execute(text("UPDATE reward_entries SET amount_fen = 1"))
    assert [tuple(e) for e in entries] == [(5_000_000, 5_000_000), (5_000_000, 10_000_000)]


# --- brokers' claims -----------------------------------------------------------------------------


async def test_broker_claims_are_confirmed_by_a_party_and_shares_never_pass_100_percent(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    deal_id = await registered_deal(client, factory, p, "2000000")
    a, b = await broker(factory), await broker(factory)
    plain = await factory.person(p.buyer, MemberRole.member)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)

    claim_a = await claim(client, a, deal_id, "60")
    claim_b = await claim(client, b, deal_id, "50", role="drafting")
    early = await client.post(
        f"/v1/broker-claims/{claim_a.json()['id']}/approve", headers=reviewer.headers
    )
    by_member = await client.post(
        f"/v1/broker-claims/{claim_a.json()['id']}/confirm", headers=plain.headers
    )
    by_outsider = await client.post(
        f"/v1/broker-claims/{claim_a.json()['id']}/confirm", headers=outsider.headers
    )
    for made in (claim_a, claim_b):
        confirmed = await client.post(
            f"/v1/broker-claims/{made.json()['id']}/confirm", headers=p.seller_owner.headers
        )
        assert confirmed.json()["state"] == "confirmed"
    by_seller_owner = await client.post(
        f"/v1/broker-claims/{claim_a.json()['id']}/approve", headers=p.seller_owner.headers
    )
    approved_a = await client.post(
        f"/v1/broker-claims/{claim_a.json()['id']}/approve", headers=reviewer.headers
    )
    over = await client.post(
        f"/v1/broker-claims/{claim_b.json()['id']}/approve", headers=reviewer.headers
    )
    late_claim = await claim(client, await broker(factory), deal_id, "40.01")
    await compute(sessionmaker, deal_id, clock)
    seen_by_a = (await client.get("/v1/rewards", headers=a.headers)).json()

    assert claim_a.status_code == 201, claim_a.text
    assert claim_a.json()["state"] == "pending"
    assert early.status_code == 409
    assert by_member.status_code == 403
    assert by_outsider.status_code == 404
    assert by_seller_owner.status_code == 403
    assert approved_a.json()["state"] == "approved"
    assert over.status_code == 409
    assert over.json()["code"] == "share_over_remainder"
    assert over.json()["remaining_share"] == "40.00"
    assert late_claim.json()["errors"][0]["code"] == "share_over_remainder"
    # 3 % × 1,000,000 + 2 % × 1,000,000 = 50,000; capped per contract at 100,000; 60 % of it.
    assert [r["amount"] for r in seen_by_a] == [cny("30000.00")]


async def test_concurrent_approvals_never_pass_100_percent(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    reviewers = [await factory.staff(PlatformRole.reviewer) for _ in range(5)]
    deal_id = await registered_deal(client, factory, p, "500000")
    ids = []
    for _ in range(5):
        made = await claim(client, await broker(factory), deal_id, "30")
        await client.post(
            f"/v1/broker-claims/{made.json()['id']}/confirm", headers=p.buyer_owner.headers
        )
        ids.append(made.json()["id"])

    answers = await asyncio.gather(
        *(
            client.post(f"/v1/broker-claims/{claim_id}/approve", headers=r.headers)
            for claim_id, r in zip(ids, reviewers, strict=True)
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 409, 409]


@pytest.mark.parametrize(
    ("case", "field", "code"),
    [
        ("not a broker", "body.kind", "not_a_broker"),
        ("unregistered", "body.deal_id", "contract_not_registered"),
        ("late", "body.deal_id", "claim_deadline_passed"),
        ("bad share", "body.share", "less_than_equal"),
        ("party with share", "body", "party_claim_fields"),
    ],
)
async def test_bad_claims_name_the_rule(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    case: str,
    field: str,
    code: str,
) -> None:
    p = await parties(factory)
    deal_id = (
        await off_platform_deal(factory, p)
        if case == "unregistered"
        else await registered_deal(client, factory, p, "500000")
    )
    if case == "late":
        clock.advance(timedelta(days=366))
    person = await factory.person() if case == "not a broker" else await broker(factory)
    body: dict[str, Any] = {"kind": "broker", "deal_id": deal_id, "role": "matching", "share": "10"}
    if case == "bad share":
        body["share"] = "100.5"
    if case == "party with share":
        body = {"kind": "party", "deal_id": deal_id, "share": "10"}

    response = await client.post("/v1/broker-claims", json=body, headers=person.headers)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["errors"][0]["code"] == code


async def test_a_broker_year_cap_binds_across_contracts_and_resets_with_the_year(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    a = await broker(factory)
    deal_ids = []
    for registered_on in ("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2027-01-05"):
        clock.set(
            clock.now().replace(
                year=int(registered_on[:4]),
                month=int(registered_on[5:7]),
                day=int(registered_on[8:]),
            )
        )
        deal_id = await registered_deal(client, factory, p, "5000000")
        made = await claim(client, a, deal_id, "100")
        await client.post(
            f"/v1/broker-claims/{made.json()['id']}/confirm", headers=p.buyer_owner.headers
        )
        await client.post(
            f"/v1/broker-claims/{made.json()['id']}/approve", headers=reviewer.headers
        )
        await compute(sessionmaker, deal_id, clock)
        deal_ids.append(deal_id)

    seen = (await client.get("/v1/rewards", headers=a.headers)).json()
    by_deal = {r["claim"]["deal_id"]: r for r in seen}
    # Each contract: 3 % × 1M + 2 % × 4M = 110,000, capped at 100,000; 300,000 a year at most.
    assert [by_deal[d]["amount"] for d in deal_ids] == [cny("100000.00")] * 3 + [
        cny("0.00"),
        cny("100000.00"),
    ]
    assert by_deal[deal_ids[0]]["working"]["cap_applied"] == "contract"
    assert by_deal[deal_ids[3]]["working"]["cap_applied"] == "year"
    ytd = (await client.get("/v1/rewards/year-to-date?year=2026", headers=a.headers)).json()
    assert ytd[0]["total"] == ytd[0]["year_cap"] == cny("300000.00")


async def test_a_policy_change_never_rewrites_a_paid_reward_it_adjusts(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = await parties(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    deal_id = await registered_deal(client, factory, p, "2000000")
    applied = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal_id},
        headers=p.buyer_owner.headers,
    )
    await client.post(f"/v1/broker-claims/{applied.json()['id']}/approve", headers=reviewer.headers)
    await compute(sessionmaker, deal_id, clock)
    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    await client.post("/v1/payouts", json={"period": period}, headers=finance.headers)

    # A corrected notice: version 2 of the same policy, same dates, a higher first tier.
    current = policies.all_policies()
    v1 = next(x for x in current if x.code == "nm-buyer-post-subsidy")
    v2 = v1.model_copy(
        update={
            "version": 2,
            "tiers": [
                policies._TierData(upper=Decimal("1000000.00"), rate=Decimal("0.12")),
                *v1.tiers[1:],
            ],
        }
    )
    monkeypatch.setattr(policies, "all_policies", lambda: (*current, v2))
    clock.advance(timedelta(days=31))
    await compute(sessionmaker, deal_id, clock)
    reward = (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()[0]
    later = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    paid = await client.post("/v1/payouts", json={"period": later}, headers=finance.headers)

    # v1: 100,000 + 50,000 = 150,000 (paid); v2: 120,000 + 50,000 = 170,000.
    assert (reward["amount"], reward["paid"], reward["policy_version"]) == (
        cny("170000.00"),
        cny("150000.00"),
        2,
    )
    assert [x["amount"] for x in paid.json()] == [cny("20000.00")]


async def test_a_policy_replaced_mid_year_applies_from_its_date_on(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import date

    current = policies.all_policies()
    v1 = next(x for x in current if x.code == "nm-buyer-post-subsidy")
    ended = v1.model_copy(update={"effective_to": date(2026, 11, 3)})
    flat = v1.model_copy(
        update={
            "version": 2,
            "effective_from": date(2026, 11, 4),
            "tiers": [policies._TierData(upper=None, rate=Decimal("0.08"))],
        }
    )
    others = tuple(x for x in current if x.code != v1.code)
    monkeypatch.setattr(policies, "all_policies", lambda: (*others, ended, flat))
    reviewer = await factory.staff(PlatformRole.reviewer)
    p = await parties(factory)
    amounts = {}
    for day in (3, 5):
        clock.set(clock.now().replace(day=day))
        deal_id = await registered_deal(client, factory, p, "2000000")
        applied = await client.post(
            "/v1/broker-claims",
            json={"kind": "party", "deal_id": deal_id},
            headers=p.buyer_owner.headers,
        )
        await client.post(
            f"/v1/broker-claims/{applied.json()['id']}/approve", headers=reviewer.headers
        )
        await compute(sessionmaker, deal_id, clock)
        amounts[day] = deal_id

    seen = {
        r["claim"]["deal_id"]: r
        for r in (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()
    }
    assert (seen[amounts[3]]["amount"], seen[amounts[3]]["policy_version"]) == (cny("150000.00"), 1)
    assert (seen[amounts[5]]["amount"], seen[amounts[5]]["policy_version"]) == (cny("160000.00"), 2)


async def test_a_claim_on_a_deal_that_does_not_exist_is_a_404(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    person = await broker(factory)

    response = await client.post(
        "/v1/broker-claims",
        json={"kind": "broker", "deal_id": str(uuid.uuid4()), "role": "matching", "share": "10"},
        headers=person.headers,
    )

    assert response.status_code == 404, response.text

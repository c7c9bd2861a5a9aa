"""Money received has one definition (`payment_queries.receipts_select`): payments and an applied
auction deposit, less refunds, by date. A settled auction whose winner's deposit was applied is
walked into every consumer — the deal's payments, the ledger, the reward's pro rata, the
inventors' net income, the VAT and income-tax filings, the statistics — and each counts the same
total."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions.increments import IncrementGrid
from app.auctions.tasks import advance
from app.core.auth import PlatformRole
from app.core.clock import BEIJING, FrozenClock
from app.payments import ledger
from app.payments import queries as payment_queries
from app.payments import service as payments
from app.results.models import Inventor
from tests.auctions.test_auctions_api import PROVIDER, bid, cny
from tests.deals.test_deals_api import (
    Parties,
    off_platform_deal,
    parties,
    pay_everything,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory
from tests.market import relay_events
from tests.tax.test_filings_api import NEW_YEAR

HAMMER = "1234567.70"
DEPOSIT = "110000.00"


async def test_a_settled_auctions_money_is_counted_the_same_everywhere(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    # Any amount may be bid (a hammer price with fen, to count to the fen everywhere).
    auction = await factory.auction(
        p.seller, start_price_fen=110_000_000, increment_grid=IncrementGrid.free
    )  # deposit 110,000
    await factory.deposit(auction, p.buyer)
    placed = await bid(client, auction, p.buyer_owner, HAMMER)
    assert placed.status_code == 201, placed.text
    clock.set(auction.ends_at)
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())
    deal = (await client.get("/v1/deals", headers=p.buyer_owner.headers)).json()["items"][0]
    registrar = await factory.staff(PlatformRole.registrar)
    finance = await factory.staff(PlatformRole.finance)
    reviewer = await factory.staff(PlatformRole.reviewer)
    body = terms(HAMMER, milestones=["490000.00", "744567.70"])
    registered = await sign_and_register(client, deal["id"], p, registrar, body)
    assert registered.status_code == 200, registered.text
    await pay_everything(client, deal["id"], p, finance)
    # The buyer's post-subsidy is pro rata to the money received.
    subsidy = await client.post(
        "/v1/broker-claims",
        json={"kind": "party", "deal_id": deal["id"]},
        headers=p.buyer_owner.headers,
    )
    await client.post(f"/v1/broker-claims/{subsidy.json()['id']}/approve", headers=reviewer.headers)
    await relay_events(sessionmaker, clock)
    # The inventors share the net income of every receipt, the applied deposit's included.
    received = (
        await client.get(f"/v1/deals/{deal['id']}/payments", headers=p.seller_owner.headers)
    ).json()
    listing_result = (await client.get("/v1/results", headers=p.seller_owner.headers)).json()
    async with sessionmaker() as session, session.begin():
        session.add(
            Inventor(
                result_id=uuid.UUID(listing_result["items"][0]["id"]),
                position=1,
                name="张明",
                share=Decimal(100),
            )
        )
    incomes = [
        await client.post(
            f"/v1/deals/{deal['id']}/inventor-shares",
            json={"payment_id": payment["id"], "costs": cny("0")},
            headers=p.seller_owner.headers,
        )
        for payment in received
    ]
    month = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    rewards = (await client.get("/v1/rewards", headers=p.buyer_owner.headers)).json()
    stats = (
        await client.get(
            f"/v1/stats/indicators?period_from={month}&period_to={month}",
            headers=finance.headers,
        )
    ).json()
    clock.set(NEW_YEAR)
    vat = await client.post(
        "/v1/tax/filings",
        json={"kind": "vat_exemption", "period": month},
        headers=p.seller_owner.headers,
    )
    eit = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    async with sessionmaker() as session:
        problems = await payments.reconcile(session)
        held = -await ledger.balance(session, ledger.deal_account(uuid.UUID(deal["id"])))
        total = await payment_queries.received_total(session, uuid.UUID(deal["id"]))

    hammer = cny(HAMMER)["amount"]
    assert deal["deposit_applied"] == cny(DEPOSIT)
    assert [(r["kind"], r["amount"]["amount"]) for r in received] == [
        ("deposit", DEPOSIT),
        ("milestone", "380000.00"),  # the deposit paid 110,000 of the first milestone
        ("milestone", "744567.70"),
    ]
    assert problems == []
    assert held == total == 123_456_770
    assert rewards[0]["working"]["received_fen"] == 123_456_770
    assert all(income.status_code == 201 for income in incomes), [i.text for i in incomes]
    pools = sum(Decimal(income.json()["income"]["amount"]) for income in incomes)
    assert str(pools) == hammer
    assert stats["money_received"] == cny(HAMMER)
    assert vat.json()["content"]["totals"]["exempt_sales"] == hammer
    assert {line["kind"] for line in vat.json()["content"]["lines"]} == {"deposit", "milestone"}
    assert eit.json()["content"]["lines"][0]["revenue"] == hammer


async def settled_and_paid(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
) -> tuple[Parties, str]:
    """The auction of the issue: 1,234,567.70 with a deposit of 110,000 applied; the contract
    `body`, registered and paid in full."""
    p = await parties(factory)
    auction = await factory.auction(
        p.seller, start_price_fen=110_000_000, increment_grid=IncrementGrid.free
    )
    await factory.deposit(auction, p.buyer)
    await bid(client, auction, p.buyer_owner, HAMMER)
    clock.set(auction.ends_at)
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())
    deal_id = (await client.get("/v1/deals", headers=p.buyer_owner.headers)).json()["items"][0][
        "id"
    ]
    clock.advance(timedelta(days=1))  # the contract, and the money, come after the settlement
    registered = await sign_and_register(
        client, deal_id, p, await factory.staff(PlatformRole.registrar), body
    )
    assert registered.status_code == 200, registered.text
    finance = await factory.staff(PlatformRole.finance)
    contract = (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    ).json()
    for milestone in contract["versions"][-1]["milestones"]:
        clock.advance(timedelta(days=7))  # one payment at a time, in order
        asked = await client.post(
            f"/v1/deals/{deal_id}/payments",
            json={"milestone": milestone["number"]},
            headers=p.buyer_owner.headers,
        )
        confirmed = await client.post(
            f"/v1/payments/{asked.json()['id']}/confirm", headers=finance.headers
        )
        assert confirmed.json()["state"] == "received", confirmed.text
    return p, deal_id


async def filings_of(
    client: httpx.AsyncClient, clock: FrozenClock, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    month = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    clock.set(NEW_YEAR)
    vat = await client.post(
        "/v1/tax/filings", json={"kind": "vat_exemption", "period": month}, headers=headers
    )
    eit = await client.post(
        "/v1/tax/filings", json={"kind": "eit_transfer_income", "period": "2026"}, headers=headers
    )
    assert (vat.status_code, eit.status_code) == (201, 201), vat.text + eit.text
    return vat.json()["content"], eit.json()["content"]


async def test_equipment_sold_with_the_technology_is_neither_exempt_nor_technology_income(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The issue's deal: 技术交易额 1,134,567.70 of 1,234,567.70 (100,000 of equipment)."""
    body = terms(
        HAMMER,
        milestones=["600000.00", "634567.70"],
        transaction_amount=cny("1134567.70"),
    )
    p, _ = await settled_and_paid(client, factory, clock, sessionmaker, body)

    vat, eit = await filings_of(client, clock, p.seller_owner.headers)

    lines = [(x["kind"], x["part"], x["received"], x["exempt"], x["reason"]) for x in vat["lines"]]
    assert lines == [
        ("deposit", "technology", "101090.00", True, None),
        ("deposit", "non_technical", "8910.00", False, "non_technical_part"),
        ("milestone", "technology", "450309.99", True, None),
        ("milestone", "non_technical", "39690.01", False, "non_technical_part"),
        ("milestone", "technology", "583167.71", True, None),
        ("milestone", "non_technical", "51399.99", False, "non_technical_part"),
    ]
    assert (vat["totals"]["exempt_sales"], vat["totals"]["taxable_sales"]) == (
        "1134567.70",
        "100000.00",
    )
    assert eit["lines"][0]["revenue"] == "1134567.70"
    assert {"reason": "non_technical_part", "amount": "100000.00"}.items() <= next(
        e for e in eit["excluded"] if e["reason"] == "non_technical_part"
    ).items()


async def test_a_milestone_that_pays_the_equipment_is_wholly_taxable(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = terms(
        HAMMER,
        milestones=["600000.00", "534567.70", "100000.00"],
        transaction_amount=cny("1134567.70"),
    )
    body["milestones"][2]["pays"] = "non_technical"
    p, deal_id = await settled_and_paid(client, factory, clock, sessionmaker, body)
    contract = (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.seller_owner.headers)
    ).json()

    vat, eit = await filings_of(client, clock, p.seller_owner.headers)

    assert [m["pays"] for m in contract["versions"][-1]["milestones"]] == [
        None,
        None,
        "non_technical",
    ]
    taxable = [(x["kind"], x["received"]) for x in vat["lines"] if not x["exempt"]]
    assert taxable == [("milestone", "100000.00")]
    assert vat["totals"]["exempt_sales"] == eit["lines"][0]["revenue"] == "1134567.70"


@pytest.mark.parametrize(
    ("pays", "amounts"),
    [
        ("non_technical", ["1000000.00", "234567.70"]),  # 234,567.70 > the 100,000 of equipment
        ("technology", ["1234567.70"]),  # the whole total > 技术交易额
    ],
)
async def test_milestones_may_not_claim_more_than_their_part(
    client: httpx.AsyncClient, factory: MarketFactory, pays: str, amounts: list[str]
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p, price_fen=123_456_770)
    body = terms(HAMMER, milestones=amounts, transaction_amount=cny("1134567.70"))
    body["milestones"][-1]["pays"] = pays

    response = await client.put(
        f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.milestones"
    assert response.json()["errors"][0]["code"] == "milestone_parts"

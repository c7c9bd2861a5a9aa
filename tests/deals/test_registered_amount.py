"""技术交易额 as the registrar checks it (核定, 《技术合同认定规则》 第五十一条): the contract's price
list (报价明细清单) itemises the technology and the rest; the registrar deducts from technology
lines with reasons; only the checked figure counts downstream (here: the statistics, which read
the same figure as rewards and the tax filings)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.deals.queries import contract_facts_of, contract_facts_select
from tests.auctions.test_auctions_api import cny
from tests.deals.test_deals_api import off_platform_deal, parties, terms
from tests.factories import MarketFactory

PRICE_LIST = [
    {"category": "technology", "description": "技术转让费", "amount": cny("800000")},
    {"category": "equipment", "description": "配套生产设备", "amount": cny("200000")},
]


def listed_terms(**overrides: Any) -> dict[str, Any]:
    return terms(
        "1000000", **{"transaction_amount": cny("800000"), "price_items": PRICE_LIST, **overrides}
    )


@pytest.mark.parametrize(
    ("price_items", "transaction", "code"),
    [
        (PRICE_LIST[:1], "800000", "price_items_total"),
        (
            [
                {**PRICE_LIST[0], "amount": cny("700000")},
                {**PRICE_LIST[1], "amount": cny("300000")},
            ],
            "800000",
            "price_items_technology",
        ),
    ],
)
async def test_a_price_list_adds_up_to_the_total_and_its_technology_to_the_amount(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    price_items: list[dict[str, Any]],
    transaction: str,
    code: str,
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p, 100_000_000)

    answer = await client.put(
        f"/v1/deals/{deal_id}/contract",
        json=listed_terms(price_items=price_items, transaction_amount=cny(transaction)),
        headers=p.seller_owner.headers,
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "body.price_items"
    assert answer.json()["errors"][0]["code"] == code


async def test_the_registrar_checks_the_amount_and_only_that_figure_counts(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p, 100_000_000)
    drafted = await client.put(
        f"/v1/deals/{deal_id}/contract", json=listed_terms(), headers=p.seller_owner.headers
    )
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers)
    register = f"/v1/deals/{deal_id}/register"

    async def decide(*deductions: dict[str, Any]) -> httpx.Response:
        return await client.post(
            register,
            json={"decision": "register", "deductions": list(deductions)},
            headers=registrar.headers,
        )

    reason = "成套设备超出合理数量，不属于技术交易额"
    refusals = [
        await decide({"item": 3, "amount": cny("1000"), "reason": reason}),
        await decide({"item": 2, "amount": cny("1000"), "reason": reason}),
        await decide(
            {"item": 1, "amount": cny("500000"), "reason": reason},
            {"item": 1, "amount": cny("400000"), "reason": reason},
        ),
        await decide({"item": 1, "amount": cny("800000"), "reason": reason}),
    ]
    registered = await decide({"item": 1, "amount": cny("100000"), "reason": reason})
    async with sessionmaker() as session:
        facts = contract_facts_of((await session.execute(contract_facts_select())).one())
    indicators = await client.get("/v1/stats/indicators", headers=registrar.headers)

    assert drafted.status_code == 200, drafted.text
    assert [line["category"] for line in drafted.json()["versions"][0]["price_items"]] == [
        "technology",
        "equipment",
    ]
    assert [(r.status_code, r.json()["errors"][0]["field"], r.json()["errors"][0]["code"]) for r in refusals] == [
        (422, "body.deductions.0.item", "no_such_price_item"),
        (422, "body.deductions.0.item", "price_item_not_technology"),
        (422, "body.deductions.1.amount", "deduction_above_item"),
        (422, "body.deductions", "nothing_counts"),
    ]  # fmt: skip
    assert registered.status_code == 200, registered.text
    version = registered.json()["versions"][0]
    assert version["transaction_amount"] == cny("800000.00")
    assert version["registered_transaction_amount"] == cny("700000.00")
    assert version["deductions"] == [{"item": 1, "amount": cny("100000.00"), "reason": reason}]
    assert facts.transaction_fen == 70_000_000
    assert indicators.json()["transaction_amount"] == cny("700000.00")


async def test_the_registration_certificate_states_the_checked_amount_and_reads_back(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    deal_id = await off_platform_deal(factory, p, 100_000_000)
    certificate = f"/v1/deals/{deal_id}/registration/certificate.pdf"
    await client.put(
        f"/v1/deals/{deal_id}/contract", json=listed_terms(), headers=p.seller_owner.headers
    )
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers)
    before = await client.get(certificate, headers=p.seller_owner.headers)
    registered = await client.post(
        f"/v1/deals/{deal_id}/register",
        json={
            "decision": "register",
            "deductions": [{"item": 1, "amount": cny("100000"), "reason": "成套设备超出合理数量"}],
        },
        headers=registrar.headers,
    )

    pdf = await client.get(certificate, headers=p.buyer_owner.headers)
    hidden = await client.get(certificate, headers=outsider.headers)

    assert before.status_code == 409
    assert registered.status_code == 200, registered.text
    assert hidden.status_code == 404
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in (
        "技术合同登记证明",
        registered.json()["registration_number"],
        "让与人（卖方）",
        "022 高等院校",
        "100 内资企业",  # the buyer's kind's default nature
        "技术转让合同／技术秘密",
        "稀土新材料",
        "1,000,000.00 元",  # 合同成交额
        "800,000.00 元",  # declared
        "700,000.00 元",  # checked (核定)
        "成套设备超出合理数量",
        "技术转让费",
        "测试用户",  # the registrar
    ):
        assert expected in text, expected


async def test_a_registrar_cannot_count_less_than_the_milestones_that_pay_the_technology(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p, 100_000_000)
    body = {
        **listed_terms(),
        "milestones": [
            {"amount": cny("800000"), "due_on": "2027-01-01", "pays": "technology"},
            {"amount": cny("200000"), "due_on": "2027-02-01", "pays": "non_technical"},
        ],
    }
    drafted = await client.put(
        f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers
    )
    assert drafted.status_code == 200, drafted.text
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers)

    answer = await client.post(
        f"/v1/deals/{deal_id}/register",
        json={
            "decision": "register",
            "deductions": [{"item": 1, "amount": cny("100000"), "reason": "设备费计入技术费"}],
        },
        headers=registrar.headers,
    )
    state = await client.get(f"/v1/deals/{deal_id}/contract", headers=registrar.headers)

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "below_designated_technology"
    assert state.json()["state"] == "signed"  # nothing half recorded


async def test_the_registrar_decides_within_thirty_days_and_sees_what_is_overdue(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    """《技术合同认定登记管理办法》: 30 days from the application; a refusal ends it, and the
    corrected contract (补正) applies anew."""
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    early = await off_platform_deal(factory, p, 50_000_000)
    late = await off_platform_deal(factory, p, 50_000_000)

    async def sign(deal_id: str, version: int, body: dict[str, Any]) -> httpx.Response:
        await client.put(f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers)
        for person in (p.seller_owner, p.buyer_owner):
            signed = await client.post(
                f"/v1/deals/{deal_id}/sign", json={"version": version}, headers=person.headers
            )
        return signed

    applied = await sign(early, 1, terms())  # 2026-11-02 10:00 Beijing (the test clock)
    clock.advance(timedelta(days=10))
    await sign(late, 1, terms())
    clock.advance(timedelta(days=21))  # 31 days after the first application
    pending = await client.get("/v1/registrations", headers=registrar.headers)
    overdue = await client.get("/v1/registrations?overdue=true", headers=registrar.headers)
    refused = await client.post(
        f"/v1/deals/{early}/register",
        json={"decision": "reject", "reasons": ["合同缺少技术指标"]},
        headers=registrar.headers,
    )
    after_refusal = await client.get("/v1/registrations", headers=registrar.headers)
    corrected = await sign(early, 2, terms(subject="稀土永磁材料制备技术转让（补正）"))
    again = await client.get("/v1/registrations", headers=registrar.headers)
    by_seller = await client.get("/v1/registrations", headers=p.seller_owner.headers)

    assert applied.json()["registration_due_on"] == "2026-12-02"
    assert [(r["deal_id"], r["due_on"], r["overdue"]) for r in pending.json()] == [
        (early, "2026-12-02", True),
        (late, "2026-12-12", False),
    ]
    assert [r["deal_id"] for r in overdue.json()] == [early]
    assert refused.json()["registration_due_on"] is None
    assert [r["deal_id"] for r in after_refusal.json()] == [late]
    assert corrected.json()["rejection_reasons"] is None
    assert corrected.json()["registration_due_on"] == "2027-01-02"
    assert [r["deal_id"] for r in again.json()] == [late, early]
    assert by_seller.status_code == 403


async def test_an_amendment_of_a_registered_contract_counts_once_its_change_is_registered(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    """变更登记: the registration number stays, what changed is on the record, and until the
    registrar registers the change the figure registered before is the one that counts."""
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    admin = await factory.staff(PlatformRole.admin)
    deal_id = await off_platform_deal(factory, p, 100_000_000)
    register = f"/v1/deals/{deal_id}/register"

    async def sign(version: int, body: dict[str, Any]) -> None:
        drafted = await client.put(
            f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers
        )
        assert drafted.status_code == 200, drafted.text
        for person in (p.seller_owner, p.buyer_owner):
            signed = await client.post(
                f"/v1/deals/{deal_id}/sign", json={"version": version}, headers=person.headers
            )
            assert signed.status_code == 200, signed.text

    async def counted() -> dict[str, str] | None:
        answer = await client.get("/v1/stats/indicators", headers=registrar.headers)
        amount: dict[str, str] | None = answer.json()["transaction_amount"]
        return amount

    await sign(1, listed_terms())
    first = await client.post(register, json={"decision": "register"}, headers=registrar.headers)
    clock.advance(timedelta(days=3))
    bigger = {
        **listed_terms(),
        "total": cny("1200000"),
        "transaction_amount": cny("1000000"),
        "price_items": [
            {"category": "technology", "description": "技术转让费", "amount": cny("1000000")},
            {"category": "equipment", "description": "配套生产设备", "amount": cny("200000")},
        ],
        "milestones": [
            {"amount": cny("600000"), "due_on": "2027-01-01"},
            {"amount": cny("600000"), "due_on": "2027-02-01"},
        ],
    }
    await sign(2, bigger)
    before_change = await counted()
    pending = await client.get("/v1/registrations", headers=registrar.headers)
    changed = await client.post(
        register,
        json={
            "decision": "register",
            "deductions": [{"item": 1, "amount": cny("100000"), "reason": "含设备安装费"}],
        },
        headers=registrar.headers,
    )
    after_change = await counted()
    again = await client.post(register, json={"decision": "register"}, headers=registrar.headers)
    [event] = (
        await client.get(
            "/v1/audit-events",
            params={"action": "contract.registration_changed"},
            headers=admin.headers,
        )
    ).json()["items"]
    certificate = await client.get(
        f"/v1/deals/{deal_id}/registration/certificate.pdf", headers=p.seller_owner.headers
    )

    assert first.status_code == 200, first.text
    number = first.json()["registration_number"]
    assert before_change == cny("800000.00")  # the amendment counts for nothing yet
    assert [(r["deal_id"], r["registration_number"]) for r in pending.json()] == [(deal_id, number)]
    assert changed.status_code == 200, changed.text
    assert changed.json()["registration_number"] == number
    assert changed.json()["registration_due_on"] is None
    assert after_change == cny("900000.00")
    assert again.status_code == 409  # nothing awaits a decision
    assert event["changes"]["changes"]["total"] == cny("1200000.00")
    assert event["changes"]["changes"]["registered_transaction_amount"] == cny("900000.00")
    assert event["before"]["registered_transaction_amount"] == cny("800000.00")
    assert event["before"]["counted_transaction_amount"] == cny("800000.00")
    text = PdfReader(io.BytesIO(certificate.content)).pages[0].extract_text()
    assert "900,000.00 元" in text
    assert "变更登记日期" in text


async def test_the_certificate_and_the_contract_read_in_english_under_accept_language_en(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p, 100_000_000)
    await client.put(
        f"/v1/deals/{deal_id}/contract", json=listed_terms(), headers=p.seller_owner.headers
    )
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers)
    await client.post(
        f"/v1/deals/{deal_id}/register", json={"decision": "register"}, headers=registrar.headers
    )
    english = {**p.seller_owner.headers, "Accept-Language": "en"}

    certificate = await client.get(
        f"/v1/deals/{deal_id}/registration/certificate.pdf", headers=english
    )
    contract = await client.get(f"/v1/deals/{deal_id}/contract.pdf", headers=english)

    certificate_text = PdfReader(io.BytesIO(certificate.content)).pages[0].extract_text()
    contract_text = PdfReader(io.BytesIO(contract.content)).pages[0].extract_text()
    for expected in (
        "Technology contract registration certificate",
        "Assignor (seller)",
        "022 University",
        "technical secret",
        "Rare-earth materials",
        "Signed on 2026-11-02",
        "Technology-transaction amount checked",
        "CNY 800,000.00",
        "(Beijing time",
    ):
        assert expected in certificate_text, expected
    for expected in ("Technology contract summary", "Payment milestones", "Assignee (buyer)"):
        assert expected in contract_text, expected
    assert "技术合同" not in certificate_text.replace("稀土永磁材料制备技术转让", "")

"""The seller's 留存备查 bundle (国家税务总局公告2018年第23号): the contract, its registration
certificate and the year's income from it as the annual filing computes it, in one ZIP."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import httpx
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from tests.deals.test_deals_api import off_platform_deal, parties
from tests.factories import MarketFactory
from tests.tax.test_filings_api import NEW_YEAR, give_inventors, sold_patent


async def test_the_seller_keeps_the_contract_the_certificate_and_the_income_of_the_year(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "600000")
    unpaid_p, unpaid = await sold_patent(client, factory, clock, sessionmaker, "100000", paid=False)
    draft_p = await parties(factory)
    unregistered = await off_platform_deal(factory, draft_p)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    evidence = f"/v1/deals/{deal_id}/tax-evidence"
    clock.set(NEW_YEAR)

    bundle = await client.get(evidence, params={"year": 2026}, headers=p.seller_owner.headers)
    by_buyer = await client.get(evidence, params={"year": 2026}, headers=p.buyer_owner.headers)
    by_outsider = await client.get(evidence, params={"year": 2026}, headers=outsider.headers)
    too_early = await client.get(
        evidence, params={"year": 2027 + 1}, headers=p.seller_owner.headers
    )
    no_year = await client.get(evidence, headers=p.seller_owner.headers)

    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(bundle.content))
    assert sorted(archive.namelist()) == ["certificate.pdf", "contract.pdf", "income-2026.xlsx"]
    certificate = PdfReader(io.BytesIO(archive.read("certificate.pdf"))).pages[0].extract_text()
    contract = PdfReader(io.BytesIO(archive.read("contract.pdf"))).pages[0].extract_text()
    assert "技术合同登记证明" in certificate
    assert "600,000.00 元" in certificate
    assert "技术合同摘要" in contract
    sheet = load_workbook(io.BytesIO(archive.read("income-2026.xlsx")))["明细"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header, [line] = rows[0], rows[1:]
    values = dict(zip(header, line, strict=True))
    assert values["交易编号"] == deal_id
    assert values["技术转让收入"] == 600_000
    assert values["技术转让所得"] == 600_000
    assert values["计入减免"] == "是"
    assert values["认定登记编号"].startswith("2026150203")
    assert by_buyer.status_code == 404  # the income is the seller's
    assert by_outsider.status_code == 404
    assert too_early.status_code == 422
    assert too_early.json()["errors"][0]["field"] == "query.year"
    assert no_year.status_code == 422
    nothing_earned = await client.get(
        f"/v1/deals/{unpaid}/tax-evidence",
        params={"year": 2026},
        headers=unpaid_p.seller_owner.headers,
    )
    not_registered = await client.get(
        f"/v1/deals/{unregistered}/tax-evidence",
        params={"year": 2026},
        headers=draft_p.seller_owner.headers,
    )
    assert nothing_earned.status_code == 200
    unpaid_sheet = load_workbook(
        io.BytesIO(zipfile.ZipFile(io.BytesIO(nothing_earned.content)).read("income-2026.xlsx"))
    )["明细"]
    assert unpaid_sheet.max_row <= 1  # registered, not paid: no income in the year
    assert not_registered.status_code == 409


async def test_related_taxes_come_off_the_income_where_a_seller_declares_them(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """技术转让所得 = 收入 − 成本 − 相关税费 (国税函〔2009〕212号 第三条): the declared related
    taxes reduce the net income, the annual filing and the 留存备查 computation alike."""
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "600000")
    await give_inventors(client, sessionmaker, p)
    payment = (
        await client.get(f"/v1/deals/{deal_id}/payments", headers=p.seller_owner.headers)
    ).json()[0]
    over = await client.post(
        f"/v1/deals/{deal_id}/inventor-shares",
        json={
            "payment_id": payment["id"],
            "costs": {"amount": "200000", "currency": "CNY"},
            "related_taxes": {"amount": "100000.01", "currency": "CNY"},  # past the payment
        },
        headers=p.seller_owner.headers,
    )
    declared = await client.post(
        f"/v1/deals/{deal_id}/inventor-shares",
        json={
            "payment_id": payment["id"],
            "costs": {"amount": "20000", "currency": "CNY"},
            "related_taxes": {"amount": "180.00", "currency": "CNY"},  # stamp duty, 0.03 %
        },
        headers=p.seller_owner.headers,
    )
    clock.set(NEW_YEAR)
    filing = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    bundle = await client.get(
        f"/v1/deals/{deal_id}/tax-evidence", params={"year": 2026}, headers=p.seller_owner.headers
    )

    assert over.json()["errors"][0]["field"] == "body.related_taxes"
    assert declared.status_code == 201, declared.text
    assert declared.json()["related_taxes"]["amount"] == "180.00"
    assert declared.json()["net_income"]["amount"] == str(
        Decimal(payment["amount"]["amount"]) - Decimal("20180.00")
    )
    [line] = filing.json()["content"]["lines"]
    assert (line["costs"], line["taxes"]) == ("20000.00", "180.00")
    assert line["income"] == "579820.00"
    archive = zipfile.ZipFile(io.BytesIO(bundle.content))
    sheet = load_workbook(io.BytesIO(archive.read("income-2026.xlsx")))["明细"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    values = dict(zip(rows[0], rows[1], strict=True))
    assert (values["成本费用"], values["相关税费"], values["技术转让所得"]) == (
        20_000,
        180,
        579_820,
    )

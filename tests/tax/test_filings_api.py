"""Tax filings through the API: computed from registered contracts and received money,
byte-identical on recomputation, amended after submission, private to the taxpayer."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.audit import AuditEvent
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import BEIJING, FrozenClock
from app.core.config import Settings
from app.core.errors import ValidationFailed
from app.core.outbox import OutboxEvent
from app.listings import service as listings
from app.main import create_app
from app.results.models import ResultKind
from app.tax import periods as tax_periods
from app.tax.models import Filing, FilingKind, FilingState
from app.tax.tasks import file_period_end
from tests.conftest import served
from tests.deals.test_deals_api import (
    Parties,
    off_platform_deal,
    pay_everything,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory, Person

NEW_YEAR = datetime(2027, 1, 2, 2, 0, tzinfo=UTC)


async def sold_patent(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    total: str,
    *,
    paid: bool = True,
) -> tuple[Parties, str]:
    """A university's invention patent sold at a fixed price, registered and (unless told
    otherwise) fully paid, in two equal milestones."""
    university = await factory.organization(OrganizationKind.university, division_code="150203")
    buyer = await factory.organization()
    p = Parties(
        university,
        buyer,
        await factory.person(university, MemberRole.owner),
        await factory.person(buyer, MemberRole.owner),
    )
    result = await factory.result(
        university, kind=ResultKind.invention_patent, ip_number="ZL202310000001.5"
    )
    listing = await factory.listing(university, price_fen=int(total) * 100, result=result)
    await factory.intent(listing, buyer)
    clock.set(listing.window_ends_at)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        await listings.close_publication_window(session, listing.id, now=clock.now())
    deal_id = (await client.get("/v1/deals", headers=p.buyer_owner.headers)).json()["items"][0][
        "id"
    ]
    half = str(int(total) // 2)
    await sign_and_register(
        client,
        deal_id,
        p,
        await factory.staff(PlatformRole.registrar),
        terms(total, milestones=[half, half]),
    )
    if paid:
        await pay_everything(client, deal_id, p, await factory.staff(PlatformRole.finance))
    return p, deal_id


async def pay_milestone(
    client: httpx.AsyncClient, deal_id: str, p: Parties, finance: Person, number: int
) -> None:
    asked = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": number}, headers=p.buyer_owner.headers
    )
    confirmed = await client.post(
        f"/v1/payments/{asked.json()['id']}/confirm", headers=finance.headers
    )
    assert confirmed.json()["state"] == "received", confirmed.text


async def test_the_income_tax_filing_is_computed_after_the_year_and_identical_when_recomputed(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    body = {"kind": "eit_transfer_income", "period": "2026"}

    early = await client.post("/v1/tax/filings", json=body, headers=p.seller_owner.headers)
    clock.set(NEW_YEAR)
    first = await client.post("/v1/tax/filings", json=body, headers=p.seller_owner.headers)
    again = await client.post("/v1/tax/filings", json=body, headers=p.seller_owner.headers)

    assert early.status_code == 422
    assert early.json()["errors"][0]["code"] == "period_not_closed"
    assert first.status_code == 201, first.text
    filing = first.json()
    assert filing["content"]["totals"] == {
        "income": "6000000.00",
        "exempt": "5000000.00",
        "excess": "1000000.00",
        "taxable_half": "500000.00",
        "reduced": "5500000.00",
    }
    assert filing["content"]["lines"][0]["deal_id"] == deal_id
    assert filing["content"]["lines"][0]["registration_number"].startswith("2026150203")
    assert "国税函〔2009〕212号" in filing["content"]["rule_set"]["citations"]
    assert (again.json()["id"], again.json()["content_sha256"]) == (
        filing["id"],
        filing["content_sha256"],
    )


async def give_inventors(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], p: Parties
) -> None:
    """The seller's (only) result names one inventor, so it may declare net income."""

    from app.results.models import Inventor

    results = (await client.get("/v1/results", headers=p.seller_owner.headers)).json()["items"]
    async with sessionmaker() as session, session.begin():
        session.add(
            Inventor(
                result_id=uuid.UUID(results[0]["id"]), position=1, name="张明", share=Decimal(100)
            )
        )


async def test_a_change_after_submission_is_an_amendment_showing_the_difference(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    clock.set(NEW_YEAR)
    first = (
        await client.post(
            "/v1/tax/filings",
            json={"kind": "eit_transfer_income", "period": "2026"},
            headers=p.seller_owner.headers,
        )
    ).json()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Filing)
            .where(Filing.id == uuid.UUID(first["id"]))
            .values(state=FilingState.submitted)
        )
    # Costs declared afterwards against a 2026 payment change the 2026 income.
    await give_inventors(client, sessionmaker, p)
    payments = (
        await client.get(f"/v1/deals/{deal_id}/payments", headers=p.seller_owner.headers)
    ).json()
    declared = await client.post(
        f"/v1/deals/{deal_id}/inventor-shares",
        json={"payment_id": payments[0]["id"], "costs": {"amount": "3000000", "currency": "CNY"}},
        headers=p.seller_owner.headers,
    )
    assert declared.status_code == 201, declared.text

    amended = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    again = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    listed = await client.get(
        "/v1/tax/filings?kind=eit_transfer_income&period=2026", headers=p.seller_owner.headers
    )

    # Recomputed unchanged, the amendment stays what it was, still saying what it amends.
    assert again.json() == amended.json()
    assert again.json()["content"]["amends_version"] == 1
    assert amended.json()["version"] == 2
    assert amended.json()["amends_id"] == first["id"]
    assert amended.json()["content"]["difference"]["income"] == {
        "before": "6000000.00",
        "after": "3000000.00",
    }
    assert sorted((f["version"], f["state"]) for f in listed.json()["items"]) == [
        (1, "amended"),
        (2, "ready"),
    ]


async def test_a_refund_counts_when_it_happens_not_in_the_year_the_money_came(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Money received is dated: a 2026 payment refunded in 2027 stays 2026 revenue and is a
    negative line of 2027 (a sales return is recognised when it occurs, 国税函〔2008〕875号)."""
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    finance = await factory.staff(PlatformRole.finance)
    clock.set(NEW_YEAR)
    payments = (
        await client.get(f"/v1/deals/{deal_id}/payments", headers=p.seller_owner.headers)
    ).json()
    refunded = await client.post(
        f"/v1/payments/{payments[1]['id']}/refund", json={"reason": "退款"}, headers=finance.headers
    )
    clock.set(datetime(2028, 1, 2, 9, 0, tzinfo=BEIJING))

    filed = {}
    for year in ("2026", "2027"):
        response = await client.post(
            "/v1/tax/filings",
            json={"kind": "eit_transfer_income", "period": year},
            headers=p.seller_owner.headers,
        )
        assert response.status_code == 201, response.text
        filed[year] = response.json()["content"]

    assert refunded.status_code == 200, refunded.text
    assert filed["2026"]["lines"][0]["revenue"] == "6000000.00"
    assert filed["2027"]["lines"][0]["revenue"] == "-3000000.00"
    assert filed["2027"]["totals"]["income"] == "-3000000.00"


async def test_vat_exempt_sales_of_a_month_and_an_unclassified_contract_is_marked_not_fatal(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, _ = await sold_patent(client, factory, clock, sessionmaker, "200000")
    off = await off_platform_deal(factory, p, price_fen=10_000_000)
    await sign_and_register(
        client, off, p, await factory.staff(PlatformRole.registrar), terms("100000")
    )
    await pay_everything(client, off, p, await factory.staff(PlatformRole.finance))
    month = clock.now().strftime("%Y-%m")
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

    assert vat.status_code == 201, vat.text
    assert vat.json()["content"]["totals"]["exempt_sales"] == "300000.00"
    assert vat.json()["content"]["totals"]["vat_forgone"] == "18000.00"
    assert {"deal_id": off, "reason": "unclassified"} in eit.json()["content"]["excluded"]
    assert eit.json()["content"]["totals"]["income"] == "200000.00"


async def test_a_contract_paid_over_two_years_counts_in_each_year_for_what_it_received(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "8000000", paid=False)
    finance = await factory.staff(PlatformRole.finance)
    await pay_milestone(client, deal_id, p, finance, 1)
    clock.set(datetime(2027, 3, 1, 2, 0, tzinfo=UTC))
    await pay_milestone(client, deal_id, p, finance, 2)
    clock.set(datetime(2028, 1, 2, 2, 0, tzinfo=UTC))

    years = {
        year: (
            await client.post(
                "/v1/tax/filings",
                json={"kind": "eit_transfer_income", "period": year},
                headers=p.seller_owner.headers,
            )
        ).json()
        for year in ("2026", "2027")
    }

    # 4,000,000 a year: under the 5,000,000 exemption both times, where 8,000,000 in one year
    # would have had 3,000,000 taxed at half.
    for year in ("2026", "2027"):
        assert years[year]["content"]["lines"][0]["deal_id"] == deal_id
        assert years[year]["content"]["totals"]["income"] == "4000000.00"
        assert years[year]["content"]["totals"]["excess"] == "0.00"


async def test_a_quarterly_small_scale_filer_files_vat_by_quarter_at_3_percent(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, _ = await sold_patent(client, factory, clock, sessionmaker, "200000")
    changed = await client.patch(
        f"/v1/organizations/{p.seller.id}",
        json={"vat_taxpayer_kind": "small_scale", "vat_period": "quarter"},
        headers=p.seller_owner.headers,
    )
    quarter = f"{clock.now().year}-Q{(clock.now().month - 1) // 3 + 1}"
    clock.set(NEW_YEAR)

    monthly = await client.post(
        "/v1/tax/filings",
        json={"kind": "vat_exemption", "period": clock.now().strftime("2026-%m")},
        headers=p.seller_owner.headers,
    )
    filed = await file_period_end(sessionmaker, clock.now())
    requested = await client.post(
        "/v1/tax/filings",
        json={"kind": "vat_exemption", "period": quarter},
        headers=p.seller_owner.headers,
    )
    listed = await client.get("/v1/tax/filings?kind=vat_exemption", headers=p.seller_owner.headers)

    assert changed.json()["vat_period"] == "quarter", changed.text
    assert monthly.status_code == 422
    assert monthly.json()["errors"][0]["code"] == "vat_period_mismatch"
    assert filed == 2  # the year's income tax and the quarter's VAT
    [filing] = listed.json()["items"]
    assert filing["period"] == quarter == "2026-Q4"
    assert requested.json()["id"] == filing["id"], requested.text
    assert filing["content"]["totals"] == {
        "exempt_sales": "200000.00",
        "taxable_sales": "0.00",
        "taxpayer_kind": "small_scale",
        "rate": "0.03",
        "vat_forgone": "6000.00",
    }


@pytest.mark.parametrize(
    ("kind", "period", "bounds"),
    [
        (FilingKind.eit_transfer_income, "2026", ("2026-01-01", "2027-01-01")),
        (FilingKind.vat_exemption, "2026-12", ("2026-12-01", "2027-01-01")),
        (FilingKind.vat_exemption, "2026-Q1", ("2026-01-01", "2026-04-01")),
        (FilingKind.vat_exemption, "2026-Q4", ("2026-10-01", "2027-01-01")),
        (FilingKind.researcher_reward_relief, "2026-02", ("2026-02-01", "2026-03-01")),
    ],
)
def test_periods_are_counted_in_beijing_time(
    kind: FilingKind, period: str, bounds: tuple[str, str]
) -> None:
    start, end = tax_periods.period_bounds(kind, period)
    assert (start.isoformat()[:10], end.isoformat()[:10]) == bounds
    assert start.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("kind", "period"),
    [
        (FilingKind.eit_transfer_income, "2026-01"),
        (FilingKind.vat_exemption, "2026"),
        (FilingKind.vat_exemption, "2026-13"),
        (FilingKind.vat_exemption, "2026-Q5"),
        (FilingKind.researcher_reward_relief, "2026-Q1"),
        (FilingKind.rd_super_deduction, "２０２６"),
    ],
)
def test_a_malformed_period_names_the_field(kind: FilingKind, period: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        tax_periods.period_bounds(kind, period)
    assert (raised.value.errors[0].field, raised.value.errors[0].code) == (
        "body.period",
        "period_format",
    )


async def test_filings_are_the_taxpayers_own(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, _ = await sold_patent(client, factory, clock, sessionmaker, "300000")
    clock.set(NEW_YEAR)
    filing = (
        await client.post(
            "/v1/tax/filings",
            json={"kind": "eit_transfer_income", "period": "2026"},
            headers=p.seller_owner.headers,
        )
    ).json()
    finance = await factory.staff(PlatformRole.finance)

    other = await client.get(f"/v1/tax/filings/{filing['id']}", headers=p.buyer_owner.headers)
    for_someone_else = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026", "taxpayer_id": str(p.seller.id)},
        headers=p.buyer_owner.headers,
    )
    by_finance = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026", "taxpayer_id": str(p.seller.id)},
        headers=finance.headers,
    )
    seen_by_finance = await client.get(f"/v1/tax/filings/{filing['id']}", headers=finance.headers)

    assert other.status_code == 404
    assert for_someone_else.status_code == 422
    assert for_someone_else.json()["errors"][0]["code"] == "not_your_organization"
    assert by_finance.json()["id"] == filing["id"]
    assert seen_by_finance.status_code == 200


async def test_workers_racing_at_the_period_end_file_once(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await sold_patent(client, factory, clock, sessionmaker, "300000")
    clock.set(NEW_YEAR)

    await asyncio.gather(*(file_period_end(sessionmaker, clock.now()) for _ in range(4)))

    async with sessionmaker() as session:
        counts = dict(
            (await session.execute(select(Filing.kind, func.count()).group_by(Filing.kind))).all()
        )
    # The money came in November: the year is filed; December (the month that just closed) has
    # nothing to file, and the fourth quarter is for quarterly VAT filers, which the seller is not.
    assert counts == {FilingKind.eit_transfer_income: 1}
    assert tax_periods.closed_periods(FilingKind.vat_exemption, clock.now()) == [
        "2026-12",
        "2026-Q4",
    ]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ENDPOINT = "https://filing.tax.example/v1/submissions"


async def ready_filing(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[Parties, dict[str, object]]:
    p, _ = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    clock.set(NEW_YEAR)
    filing = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    return p, filing.json()


async def test_a_filing_exports_as_xlsx_and_as_a_pdf_with_its_chinese_text(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    import pypdfium2
    from openpyxl import load_workbook
    from pypdf import PdfReader

    p, filing = await ready_filing(client, factory, clock, sessionmaker)
    url = f"/v1/tax/filings/{filing['id']}"

    xlsx = await client.get(url, headers={**p.seller_owner.headers, "Accept": XLSX})
    pdf = await client.get(url, headers={**p.seller_owner.headers, "Accept": "application/pdf"})
    again = await client.get(url, headers={**p.seller_owner.headers, "Accept": "application/pdf"})

    assert xlsx.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(xlsx.content))
    totals = {row[0].value: row[1] for row in book["申报表"].iter_rows(min_row=5) if row[0].value}
    assert totals["减免所得合计"].value == 5_500_000
    assert totals["减免所得合计"].number_format == "#,##0.00"
    lines = list(book["明细"].iter_rows(values_only=True))
    assert lines[0] == (
        "交易编号",
        "认定登记编号",
        "技术转让收入",
        "成本费用",
        "技术转让所得",
        "计入减免",
    )
    assert [type(value) for value in lines[1][2:5]] == [int, int, int]  # numbers, not text
    assert sum(line[2] for line in lines[1:]) == 6_000_000  # a spreadsheet can add them up
    assert lines[1][5] == "是"
    assert book["依据"]["A1"].value == "《企业所得税法》第二十七条第（四）项"
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == again.content  # the same filing renders to the same bytes
    path = tmp_path / "filing.pdf"
    path.write_bytes(pdf.content)
    text = PdfReader(path).pages[0].extract_text()
    assert "技术转让所得减免企业所得税申报表" in text
    assert "5,500,000.00" in text
    assert "计算时间：2027-01-02 10:00（北京时间）" in text
    assert "taxable_half" not in text
    assert "included" not in text
    image = pypdfium2.PdfDocument(str(path))[0].render(scale=1).to_pil().convert("L")
    assert sum(image.histogram()[:128]) > 2_000


async def test_a_vat_filing_exports_chinese_labels_and_codes(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    p, _ = await sold_patent(client, factory, clock, sessionmaker, "200000")
    month = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    clock.set(NEW_YEAR)
    filing = (
        await client.post(
            "/v1/tax/filings",
            json={"kind": "vat_exemption", "period": month},
            headers=p.seller_owner.headers,
        )
    ).json()
    url = f"/v1/tax/filings/{filing['id']}"

    xlsx = await client.get(url, headers={**p.seller_owner.headers, "Accept": XLSX})
    pdf = await client.get(url, headers={**p.seller_owner.headers, "Accept": "application/pdf"})

    book = load_workbook(io.BytesIO(xlsx.content))
    totals = {
        row[0]: row[1] for row in book["申报表"].iter_rows(min_row=5, values_only=True) if row[0]
    }
    assert totals["纳税人类型"] == "一般纳税人"
    assert totals["免税销售额"] == 200_000
    assert totals["适用税率"] == 0.06  # a number (formatted as a percentage)
    header, *rows = list(book["明细"].iter_rows(values_only=True))
    assert "收款类型" in header
    assert "是否免税" in header
    assert "exempt" not in header
    assert {row[header.index("收款类型")] for row in rows} == {"付款节点"}
    path = tmp_path / "vat.pdf"
    path.write_bytes(pdf.content)
    text = PdfReader(path).pages[0].extract_text()
    assert "一般纳税人" in text
    assert "general" not in text
    assert "200,000.00" in text
    assert "6%" in text


async def test_without_an_endpoint_submission_records_a_manual_receipt_and_finance_records_the_decision(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, filing = await ready_filing(client, factory, clock, sessionmaker)
    finance = await factory.staff(PlatformRole.finance)

    submitted = await client.post(
        f"/v1/tax/filings/{filing['id']}/submit", headers=p.seller_owner.headers
    )
    twice = await client.post(
        f"/v1/tax/filings/{filing['id']}/submit", headers=p.seller_owner.headers
    )
    by_owner = await client.post(
        f"/v1/tax/filings/{filing['id']}/decision",
        json={"decision": "accepted"},
        headers=p.seller_owner.headers,
    )
    accepted = await client.post(
        f"/v1/tax/filings/{filing['id']}/decision",
        json={"decision": "accepted"},
        headers=finance.headers,
    )

    assert submitted.json()["state"] == "submitted"
    assert submitted.json()["receipt"]["manual"] is True
    assert twice.json()["receipt"] == submitted.json()["receipt"]
    assert by_owner.status_code == 403
    assert accepted.json()["state"] == "accepted"


@pytest.fixture
async def filing_app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"tax_filing_url": ENDPOINT}), clock=clock)
    yield application
    await application.state.http.aclose()
    await application.state.engine.dispose()


@pytest.fixture
async def filing_client(filing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with served(filing_app) as http:
        yield http


async def test_submission_retries_under_one_submission_id_and_tracks_the_answer(
    filing_client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    attempts = iter(["busy", "reset", "ok"])

    def answer(request: httpx.Request) -> httpx.Response:
        step = next(attempts)
        if step == "reset":
            raise httpx.ConnectError("reset", request=request)
        if step == "busy":
            return httpx.Response(503)
        return httpx.Response(200, json={"status": "accepted", "reference": "SWJ-2027-0001"})

    p, filing = await ready_filing(filing_client, factory, clock, sessionmaker)
    with respx.mock:
        route = respx.post(ENDPOINT).mock(side_effect=answer)
        submitted = await filing_client.post(
            f"/v1/tax/filings/{filing['id']}/submit", headers=p.seller_owner.headers
        )

    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "accepted"
    assert submitted.json()["receipt"] == {"status": "accepted", "reference": "SWJ-2027-0001"}
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(route.calls) == 3
    assert len(keys) == 1
    sent = json.loads(route.calls[2].request.content)
    assert (sent["kind"], sent["period"], sent["sha256"]) == (
        "eit_transfer_income",
        "2026",
        filing["content_sha256"],
    )


async def test_an_endpoint_down_is_a_503_and_a_refusal_a_rejected_filing(
    filing_client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, filing = await ready_filing(filing_client, factory, clock, sessionmaker)
    url = f"/v1/tax/filings/{filing['id']}/submit"
    with respx.mock:
        route = respx.post(ENDPOINT).mock(return_value=httpx.Response(502))
        down = await filing_client.post(url, headers=p.seller_owner.headers)
        route.mock(return_value=httpx.Response(422, json={"reason": "纳税人识别号不符"}))
        refused = await filing_client.post(url, headers=p.seller_owner.headers)

    assert down.status_code == 503
    assert down.json()["code"] == "filing_endpoint_unavailable"
    assert refused.json()["state"] == "rejected"
    assert refused.json()["rejection_reason"] == "纳税人识别号不符"
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(keys) == 1  # the id kept after the outage is the one used again


async def test_the_commissioning_buyer_files_its_super_deduction(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
) -> None:
    university = await factory.organization(OrganizationKind.university, division_code="150203")
    buyer = await factory.organization()
    p = Parties(
        university,
        buyer,
        await factory.person(university, MemberRole.owner),
        await factory.person(buyer, MemberRole.owner),
    )
    deal_id = await off_platform_deal(factory, p, price_fen=100_000 * 100)
    await sign_and_register(
        client,
        deal_id,
        p,
        await factory.staff(PlatformRole.registrar),
        terms("100000", contract_type="development"),
    )
    await pay_everything(client, deal_id, p, await factory.staff(PlatformRole.finance))
    clock.set(NEW_YEAR)

    filing = await client.post(
        "/v1/tax/filings",
        json={"kind": "rd_super_deduction", "period": "2026"},
        headers=p.buyer_owner.headers,
    )
    by_seller = await client.post(
        "/v1/tax/filings",
        json={"kind": "rd_super_deduction", "period": "2026"},
        headers=p.seller_owner.headers,
    )

    assert filing.status_code == 201, filing.text
    # 80 % of 100,000 counts; 100 % of it is deducted again from 2023.
    assert filing.json()["content"]["totals"] == {"counted": "80000.00", "deduction": "80000.00"}
    assert len(filing.json()["content"]["lines"]) == 2
    assert by_seller.status_code == 404  # the seller commissioned nothing


async def test_researchers_rewards_are_filed_at_half_when_published(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:

    from app.results.models import Inventor

    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "200000")
    listing_result = (await client.get("/v1/results", headers=p.seller_owner.headers)).json()[
        "items"
    ][0]["id"]
    async with sessionmaker() as session, session.begin():
        session.add(
            Inventor(
                result_id=uuid.UUID(listing_result), position=1, name="张明", share=Decimal(100)
            )
        )
    payments = (
        await client.get(f"/v1/deals/{deal_id}/payments", headers=p.seller_owner.headers)
    ).json()
    for payment, published in zip(payments, ["2026-11-20", None], strict=True):
        declared = await client.post(
            f"/v1/deals/{deal_id}/inventor-shares",
            json={
                "payment_id": payment["id"],
                "costs": {"amount": "0", "currency": "CNY"},
                "rewards_published_on": published,
            },
            headers=p.seller_owner.headers,
        )
        assert declared.status_code == 201, declared.text
    month = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    clock.set(NEW_YEAR)

    filing = await client.post(
        "/v1/tax/filings",
        json={"kind": "researcher_reward_relief", "period": month},
        headers=p.seller_owner.headers,
    )

    lines = filing.json()["content"]["lines"]
    # Each payment of 100,000 gives 50,000 to the inventor (50 %); published: half is taxable.
    assert sorted((x["reward"], x["taxable"], x["conditions_met"]) for x in lines) == [
        ("50000.00", "25000.00", True),
        ("50000.00", "50000.00", False),
    ]
    assert filing.json()["content"]["totals"] == {"taxable": "75000.00", "relieved": "25000.00"}


async def test_a_period_before_the_policy_existed_is_a_422_not_a_500(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    enterprise = await factory.organization()
    owner = await factory.person(enterprise, MemberRole.owner)

    answer = await client.post(
        "/v1/tax/filings",
        json={"kind": "rd_super_deduction", "period": "2010"},
        headers=owner.headers,
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0] == {
        "field": "body.period",
        "code": "no_rule_set_in_force",
        "message": answer.json()["errors"][0]["message"],
    }


async def test_a_filing_reads_in_english_under_accept_language_en(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    p, filing = await ready_filing(client, factory, clock, sessionmaker)
    url = f"/v1/tax/filings/{filing['id']}"
    english = {**p.seller_owner.headers, "Accept-Language": "en"}

    pdf = await client.get(url, headers={**english, "Accept": "application/pdf"})
    xlsx = await client.get(url, headers={**english, "Accept": XLSX})

    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in (
        "Income tax relief on technology-transfer income",
        "Relieved income",
        "5,500,000.00",
        "Computed: 2027-01-02 10:00 (Beijing time)",
        "Registration number",
        "Legal basis: 《企业所得税法》第二十七条第（四）项",  # the law as it is written
    ):
        assert expected in text, expected
    for raw in ("taxable_half", "included", "revenue", "减免所得合计"):
        assert raw not in text, raw
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Filing", "Lines", "Not counted", "Legal basis"]
    header, line = list(book["Lines"].iter_rows(values_only=True))[:2]
    assert header[:3] == ("Deal", "Registration number", "Revenue")
    assert line[-1] == "yes"


async def test_a_requested_filing_is_announced_once_and_audited_with_who_asked_for_it(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, _ = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    body = {"kind": "eit_transfer_income", "period": "2026"}
    clock.set(NEW_YEAR)

    first = await client.post("/v1/tax/filings", json=body, headers=p.seller_owner.headers)
    again = await client.post("/v1/tax/filings", json=body, headers=p.seller_owner.headers)

    assert first.status_code == again.status_code == 201, first.text
    filing_id = first.json()["id"]
    async with sessionmaker() as session:
        announced = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "filing.ready"))
        ).all()
        audited = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "filing.ready"))
        ).all()
    # The unchanged recomputation announces nothing; the one version is announced at the
    # platform's time, and the audit trail says who asked for it.
    assert [(event.payload, event.created_at) for event in announced] == [
        (
            {"filing_id": filing_id, "kind": "eit_transfer_income", "period": "2026", "version": 1},
            NEW_YEAR,
        )
    ]
    assert [
        (entry.actor_user_id, entry.object_type, entry.object_id, entry.organization_id)
        for entry in audited
    ] == [(p.seller_owner.user_id, "filing", filing_id, p.seller.id)]

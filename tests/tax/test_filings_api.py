"""Tax filings through the API: computed from registered contracts and received money,
byte-identical on recomputation, amended after submission, private to the taxpayer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.listings import service as listings
from app.results.models import ResultKind
from app.tax import service as tax
from app.tax.models import Filing, FilingKind, FilingState
from tests.deals.test_deals_api import (
    Parties,
    off_platform_deal,
    pay_everything,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory
from workers.tasks import file_period_end

NEW_YEAR = datetime(2027, 1, 2, 2, 0, tzinfo=UTC)


async def sold_patent(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    total: str,
) -> tuple[Parties, str]:
    """A university's invention patent sold at a fixed price, registered and fully paid."""
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
    await pay_everything(client, deal_id, p, await factory.staff(PlatformRole.finance))
    return p, deal_id


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


async def test_a_change_after_submission_is_an_amendment_showing_the_difference(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p, deal_id = await sold_patent(client, factory, clock, sessionmaker, "6000000")
    finance = await factory.staff(PlatformRole.finance)
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
    payments = (
        await client.get(f"/v1/deals/{deal_id}/payments", headers=p.seller_owner.headers)
    ).json()
    await client.post(
        f"/v1/payments/{payments[1]['id']}/refund", json={"reason": "退款"}, headers=finance.headers
    )

    amended = await client.post(
        "/v1/tax/filings",
        json={"kind": "eit_transfer_income", "period": "2026"},
        headers=p.seller_owner.headers,
    )
    listed = await client.get(
        "/v1/tax/filings?kind=eit_transfer_income&period=2026", headers=p.seller_owner.headers
    )

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
    # nothing to file.
    assert counts == {FilingKind.eit_transfer_income: 1}
    assert tax.last_closed_period(FilingKind.vat_exemption, clock.now()) == "2026-12"

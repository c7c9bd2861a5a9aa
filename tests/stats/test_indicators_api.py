"""Statistical indicators: registered contracts and amounts by field, region, type and month,
the market's flow, public with small cells withheld, detailed for platform staff."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import PlatformRole
from app.core.clock import FrozenClock
from tests.deals.test_deals_api import off_platform_deal, sign_and_register, terms
from tests.factories import MarketFactory
from tests.tax.test_filings_api import sold_patent

YEAR = {"period_from": "2026-01", "period_to": "2026-12"}


async def test_indicators_count_registered_contracts_and_withhold_small_cells(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sales = [
        await sold_patent(client, factory, clock, sessionmaker, total, paid=False)
        for total in ("200000", "300000", "500000")
    ]
    p, _ = sales[0]
    off = await off_platform_deal(factory, p, price_fen=10_000_000)
    await sign_and_register(
        client, off, p, await factory.staff(PlatformRole.registrar), terms("100000")
    )
    staff = await factory.staff(PlatformRole.reviewer)

    public = await client.get("/v1/stats/indicators", params=YEAR)
    detailed = await client.get("/v1/stats/indicators", params=YEAR, headers=staff.headers)
    narrow = await client.get("/v1/stats/indicators", params={**YEAR, "field": "new_materials"})
    bad = await client.get(
        "/v1/stats/indicators", params={"period_from": "2026-05", "period_to": "2026-01"}
    )

    assert public.status_code == 200, public.text
    body = public.json()
    assert body["registered_contracts"] == 4
    assert body["transaction_amount"]["amount"] == "1100000.00"
    fields = {cell["key"]: cell for cell in body["by_field"]}
    assert fields["new_materials"]["contracts"] == 3
    assert fields["new_materials"]["amount"]["amount"] == "1000000.00"
    assert fields["unclassified"]["amount"] is None  # one contract: its price stays private
    assert body["withheld_below"] == 3
    assert body["leading_sellers"] == []
    [region] = body["by_region"]
    assert (region["key"], region["contracts"]) == ("150000", 4)
    assert region["label"].startswith("内蒙古")
    assert [cell["key"] for cell in body["by_contract_type"]] == ["transfer"]
    assert body["listings_published"] >= 3
    assert body["intents"] >= 3
    assert body["median_days_publication_to_contract"] is not None

    staff_view = detailed.json()
    assert staff_view["withheld_below"] is None
    assert {c["key"]: c["amount"] for c in staff_view["by_field"]}["unclassified"] is not None
    assert staff_view["leading_sellers"][0]["amount"]["amount"] == "500000.00"

    assert narrow.json()["registered_contracts"] == 3
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.period_to"

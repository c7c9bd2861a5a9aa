"""A transfer agency's service performance of a year (服务绩效): the registered contracts its
brokers brought about, their 技术交易额, the clients served and the share of its province's
contracts — what its yearly evaluation starts from."""

from __future__ import annotations

from decimal import Decimal

import httpx

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from tests.deals.test_deals_api import off_platform_deal, parties, sign_and_register, terms
from tests.factories import MarketFactory


async def test_an_agencys_year_counts_the_contracts_its_brokers_brought_about(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency, division_code="150102")
    agency_owner = await factory.person(agency, MemberRole.owner)
    broker = await factory.broker(await factory.person(agency), agency=agency)
    registrar = await factory.staff(PlatformRole.registrar)
    staff = await factory.staff(PlatformRole.reviewer)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    brokered, plain = await parties(factory), await parties(factory)  # sellers in 150203
    brokered_deal = await off_platform_deal(factory, brokered)
    named = await client.put(
        f"/v1/deals/{brokered_deal}/brokers",
        json={"broker_ids": [str(broker.id)]},
        headers=brokered.seller_owner.headers,
    )
    await sign_and_register(client, brokered_deal, brokered, registrar, terms("300000"))
    await sign_and_register(
        client, await off_platform_deal(factory, plain), plain, registrar, terms("200000")
    )
    url = f"/v1/organizations/{agency.id}/agency-indicators"

    mine = await client.get(url, params={"year": 2026}, headers=agency_owner.headers)
    by_staff = await client.get(url, params={"year": 2026}, headers=staff.headers)
    by_outsider = await client.get(url, params={"year": 2026}, headers=outsider.headers)
    not_agency = await client.get(
        f"/v1/organizations/{brokered.seller.id}/agency-indicators",
        params={"year": 2026},
        headers=staff.headers,
    )
    later = await client.get(url, params={"year": 2030}, headers=agency_owner.headers)

    assert named.status_code == 200, named.text
    assert mine.status_code == 200, mine.text
    assert mine.json() == by_staff.json()
    figures = mine.json()
    assert (figures["contracts"], figures["clients"], figures["region_contracts"]) == (1, 2, 2)
    assert figures["amount"] == {"amount": "300000.00", "currency": "CNY"}
    assert Decimal(figures["region_share"]) == Decimal("0.5")
    assert by_outsider.status_code == 404
    assert not_agency.json()["errors"][0]["code"] == "not_a_transfer_agency"
    assert later.status_code == 422

"""The registration form's data (技术合同登记表): the contract's sub-type, technology field and
the rights it involves, both parties' nature (买卖方性质) and country (国别代码, GB/T 2659) codes,
the signing date, and technology imports and exports — required where the form requires them,
kept as registered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.auth import PlatformRole
from tests.deals.test_deals_api import off_platform_deal, parties, sign_and_register, terms
from tests.factories import MarketFactory


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"subtype": None, "technology_field": None},
         ["subtype_missing", "technology_field_missing"]),
        ({"subtype": "patent"}, ["intellectual_property_missing"]),
        # A software number does not make a patent contract's form complete.
        ({"subtype": "patent",
          "intellectual_property": [{"kind": "software_copyright", "number": "2023SR0123456"}]},
         ["intellectual_property_missing"]),
    ],
)  # fmt: skip
async def test_registration_requires_the_forms_data(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    reasons: list[str],
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    refused = await sign_and_register(
        client, await off_platform_deal(factory, p), p, registrar, terms(**overrides)
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "registration_incomplete"
    assert refused.json()["reasons"] == reasons


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"contract_type": "development", "subtype": "patent"}, "body.subtype",
         "subtype_not_of_type"),
        ({"contract_type": "licence", "exclusivity": "exclusive", "licence_scope": "全国",
          "subtype": "patent_application"}, "body.subtype", "subtype_not_of_type"),
        ({"technology_field": "astrology"}, "body.technology_field", "field_unknown"),
        ({"intellectual_property": [{"kind": "invention_patent", "number": "202310123456.0"}]},
         "body.intellectual_property.0", "patent_check_digit"),
    ],
)  # fmt: skip
async def test_bad_form_data_names_the_field(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    p = await parties(factory)
    deal = await off_platform_deal(factory, p)
    drafted = await client.put(
        f"/v1/deals/{deal}/contract", json=terms(**overrides), headers=p.seller_owner.headers
    )
    assert drafted.status_code == 422, drafted.text
    error = drafted.json()["errors"][0]
    assert error["field"].startswith(field), error
    assert error["code"] == code, error


async def test_an_export_registers_with_both_parties_as_they_were(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    org = f"/v1/organizations/{p.buyer.id}"
    abroad = await client.patch(
        org, json={"country_code": "276", "nature_code": "500"}, headers=p.buyer_owner.headers
    )
    unknown_country = await client.patch(
        org, json={"country_code": "XYZ"}, headers=p.buyer_owner.headers
    )
    unknown_nature = await client.patch(
        org, json={"nature_code": "999"}, headers=p.buyer_owner.headers
    )
    seller = await client.get(f"/v1/organizations/{p.seller.id}", headers=p.seller_owner.headers)
    deal = await off_platform_deal(factory, p)
    patent = {"kind": "invention_patent", "number": "ZL202310123456.6"}
    registered = await sign_and_register(
        client, deal, p, registrar, terms(subtype="patent", intellectual_property=[patent])
    )
    await client.patch(org, json={"name": "Rare Earth Magnets GmbH"}, headers=p.buyer_owner.headers)
    contract = await client.get(f"/v1/deals/{deal}/contract", headers=p.seller_owner.headers)

    assert abroad.status_code == 200, abroad.text
    assert (abroad.json()["country_code"], abroad.json()["nature_code"]) == ("DEU", "500")
    assert unknown_country.json()["errors"][0]["code"] == "country_unknown"
    assert unknown_nature.json()["errors"][0]["code"] == "nature_unknown"
    assert (seller.json()["nature_code"], seller.json()["country_code"]) == ("022", "CHN")
    assert registered.status_code == 200, registered.text
    version = contract.json()["versions"][-1]
    assert version["subtype"] == "patent"
    assert version["technology_field"] == "new_materials.rare_earths"
    assert version["intellectual_property"] == [
        {"kind": "invention_patent", "number": "202310123456.6"}
    ]
    form = version["registration_form"]
    assert form["cross_border"] == "export"
    assert form["signed_on"] == "2026-11-02"
    assert form["seller"]["nature_code"] == "022"
    assert form["seller"]["division_code"] == "150203"
    assert (form["buyer"]["country_code"], form["buyer"]["nature_code"]) == ("DEU", "500")
    assert form["buyer"]["name"] == p.buyer.name  # as registered, not as renamed since


async def test_a_change_registration_records_a_changed_sub_type(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    admin = await factory.staff(PlatformRole.admin)
    deal = await off_platform_deal(factory, p)
    await sign_and_register(client, deal, p, registrar, terms())
    patent = {"kind": "invention_patent", "number": "202310123456.6"}
    changed = await sign_and_register(
        client, deal, p, registrar, terms(subtype="patent", intellectual_property=[patent])
    )
    audit = await client.get(
        "/v1/audit-events",
        params={"action": "contract.registration_changed"},
        headers=admin.headers,
    )

    assert changed.status_code == 200, changed.text
    event = audit.json()["items"][0]
    assert event["changes"]["changes"]["subtype"] == "patent"
    assert event["before"]["subtype"] == "technical_secret"
    assert event["changes"]["changes"]["intellectual_property"] == [patent]

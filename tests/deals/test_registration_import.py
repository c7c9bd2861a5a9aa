"""Contracts registered at another registration office, imported by a platform registrar:
every number checked where it comes in (16 digits, a real division code in the seller's
region, its year, not already here), all rows or none, and the platform's own numbers of that
region and year continuing after the imported ones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.auth import PlatformRole
from tests.deals.test_deals_api import (
    Parties,
    cny,
    off_platform_deal,
    parties,
    sign_and_register,
    terms,
)
from tests.factories import MarketFactory

NOBODY = "91150100MA0N000000"  # a valid credit code no organization on the platform has


def row(p: Parties, number: str, **overrides: Any) -> dict[str, Any]:
    return {
        "registration_number": number,
        "registered_on": "2026-10-09",
        "signed_on": "2026-09-28",
        "seller_credit_code": p.seller.credit_code,
        "buyer_credit_code": p.buyer.credit_code,
        "contract_type": "transfer",
        "subtype": "technical_secret",
        "subject": "稀土抛光粉制备技术转让",
        "technology_field": "new_materials.rare_earths",
        "total": cny("300000"),
        "transaction_amount": cny("250000"),
        "starts_on": "2026-09-28",
        "ends_on": "2027-09-27",
        **overrides,
    }


async def test_a_registrar_imports_registrations_and_the_numbering_continues_after_them(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)  # the seller is in 150203 (Baotou, Kundulun)
    registrar = await factory.staff(PlatformRole.registrar)
    rows = [
        row(p, "2026150203000041"),
        # Registered by the prefecture's office (150200, above the seller's county).
        row(p, "2026150200000007", contract_type="licence", exclusivity="exclusive",
            subtype="patent", licence_scope="内蒙古自治区",
            intellectual_property=[{"kind": "invention_patent", "number": "202310123456.6"}]),
    ]  # fmt: skip

    by_seller = await client.post(
        "/v1/registrations/imports", json={"registrations": rows}, headers=p.seller_owner.headers
    )
    imported = await client.post(
        "/v1/registrations/imports", json={"registrations": rows}, headers=registrar.headers
    )
    again = await client.post(
        "/v1/registrations/imports", json={"registrations": rows[:1]}, headers=registrar.headers
    )
    deal = imported.json()[0]["deal_id"]
    contract = await client.get(f"/v1/deals/{deal}/contract", headers=p.seller_owner.headers)
    next_here = await sign_and_register(
        client, await off_platform_deal(factory, p), p, registrar, terms()
    )

    assert by_seller.status_code == 403
    assert imported.status_code == 201, imported.text
    assert [i["registration_number"] for i in imported.json()] == [
        "2026150203000041",
        "2026150200000007",
    ]
    assert contract.json()["state"] == "registered"
    assert contract.json()["registration_number"] == "2026150203000041"
    version = contract.json()["versions"][0]
    assert version["registered_transaction_amount"] == cny("250000.00")
    assert version["registration_form"]["imported"] is True
    assert version["registration_form"]["signed_on"] == "2026-09-28"
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "body.registrations.0.registration_number"
    assert again.json()["errors"][0]["code"] == "registration_number_taken"
    assert next_here.json()["registration_number"] == "2026150203000042"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"registration_number": "202615020300004"}, "registration_number",
         "registration_number_format"),
        ({"registration_number": "2026159999000001"}, "registration_number",
         "registration_number_division"),
        ({"registration_number": "1985150203000001", "registered_on": "1985-05-05",
          "signed_on": "1985-05-01"}, "registration_number", "registration_number_year"),
        ({"registration_number": "2026150203000000"}, "registration_number",
         "registration_number_serial"),
        ({"registration_number": "2025150203000001"}, "registration_number",
         "registration_year_mismatch"),
        ({"registration_number": "2026110101000001"}, "registration_number",
         "registration_number_region"),
        ({"registered_on": "2026-12-31"}, "registered_on", "in_future"),
        ({"signed_on": "2026-10-10"}, "signed_on", "signed_after_registration"),
        ({"buyer_credit_code": NOBODY}, "buyer_credit_code", "organization_unknown"),
        ({"transaction_amount": cny("300000.01")}, "transaction_amount",
         "transaction_above_total"),
        ({"subtype": "training"}, "subtype", "subtype_not_of_type"),
        ({"subtype": "patent"}, "", "registration_incomplete"),
    ],
)  # fmt: skip
async def test_a_bad_row_names_its_field_and_nothing_is_imported(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    good = row(p, "2026150203000003")
    refused = await client.post(
        "/v1/registrations/imports",
        json={"registrations": [good, row(p, "2026150203000004", **overrides)]},
        headers=registrar.headers,
    )
    alone = await client.post(
        "/v1/registrations/imports", json={"registrations": [good]}, headers=registrar.headers
    )

    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["field"] == "body.registrations.1" + (f".{field}" if field else ""), error
    assert error["code"] == code, error
    assert alone.status_code == 201, alone.text  # the good row was not written before


async def test_a_number_twice_in_one_import_is_refused(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    twice = await client.post(
        "/v1/registrations/imports",
        json={"registrations": [row(p, "2026150203000005"), row(p, "2026150203000005")]},
        headers=registrar.headers,
    )
    assert twice.json()["errors"][0]["code"] == "duplicate_in_import"

"""Deals and technology contracts through the API: every origin to a registered, paid,
completed contract with the ledger reconciled; signing, amendments, registration, bad input."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization, OrganizationKind
from app.auctions.tasks import advance
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.core.db import libpq_url
from app.core.money import Money
from app.deals import service as deals
from app.deals.models import DealSource
from app.demo_history import TYPICAL_SUBTYPES
from app.listings import service as listings
from app.listings.models import ListingMode
from app.payments import ledger
from app.payments import queries as payment_queries
from app.payments import service as payments
from app.payments.models import LedgerEntry
from tests.auctions.test_auctions_api import PROVIDER, bid, cny
from tests.factories import MarketFactory, Person


def terms(
    total: str = "500000", *, milestones: list[str] | None = None, **overrides: Any
) -> dict[str, Any]:
    amounts = milestones or [str(Money.yuan(total).amount / 2)] * 2
    return {
        "contract_type": "transfer",
        "subtype": TYPICAL_SUBTYPES.get(overrides.get("contract_type", "transfer")),
        "technology_field": "new_materials.rare_earths",
        "subject": "稀土永磁材料制备技术转让",
        "content": "甲方将其拥有的稀土永磁材料制备技术转让给乙方，并提供技术指导与培训。",
        "total": cny(total),
        "transaction_amount": cny(total),
        "starts_on": "2026-11-10",
        "ends_on": "2027-11-09",
        "milestones": [
            {"amount": cny(amount), "due_on": f"2027-0{number}-01"}
            for number, amount in enumerate(amounts, start=1)
        ],
        **overrides,
    }


class Parties:
    def __init__(
        self, seller: Organization, buyer: Organization, seller_owner: Person, buyer_owner: Person
    ) -> None:
        self.seller, self.buyer = seller, buyer
        self.seller_owner, self.buyer_owner = seller_owner, buyer_owner


async def parties(factory: MarketFactory) -> Parties:
    seller = await factory.organization(OrganizationKind.university, division_code="150203")
    buyer = await factory.organization()
    return Parties(
        seller,
        buyer,
        await factory.person(seller, MemberRole.owner),
        await factory.person(buyer, MemberRole.owner),
    )


async def sign_and_register(
    client: httpx.AsyncClient, deal_id: str, p: Parties, registrar: Person, body: dict[str, Any]
) -> httpx.Response:
    drafted = await client.put(
        f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers
    )
    assert drafted.status_code == 200, drafted.text
    version = drafted.json()["versions"][-1]["number"]
    for person in (p.seller_owner, p.buyer_owner):
        signed = await client.post(
            f"/v1/deals/{deal_id}/sign", json={"version": version}, headers=person.headers
        )
        assert signed.status_code == 200, signed.text
    return await client.post(
        f"/v1/deals/{deal_id}/register", json={"decision": "register"}, headers=registrar.headers
    )


async def registered_deal(client: httpx.AsyncClient, factory: MarketFactory) -> tuple[str, Parties]:
    """An off-platform deal between a university and an enterprise, its contract signed by both
    and registered: ready for payments."""
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p)
    await sign_and_register(
        client, deal_id, p, await factory.staff(PlatformRole.registrar), terms()
    )
    return deal_id, p


async def payments_and_contract(
    client: httpx.AsyncClient, deal_id: str, p: Parties
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The deal's payments and its contract as the buyer sees them."""
    payments = await client.get(f"/v1/deals/{deal_id}/payments", headers=p.buyer_owner.headers)
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    return payments.json(), contract.json()


async def pay_everything(
    client: httpx.AsyncClient, deal_id: str, p: Parties, finance: Person
) -> list[dict[str, Any]]:
    contract = (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    ).json()
    paid = []
    for milestone in contract["versions"][-1]["milestones"]:
        if milestone["outstanding"]["amount"] == "0.00":
            continue
        asked = await client.post(
            f"/v1/deals/{deal_id}/payments",
            json={"milestone": milestone["number"]},
            headers=p.buyer_owner.headers,
        )
        assert asked.status_code == 201, asked.text
        confirmed = await client.post(
            f"/v1/payments/{asked.json()['id']}/confirm", headers=finance.headers
        )
        assert confirmed.json()["state"] == "received", confirmed.text
        paid.append(confirmed.json())
    return paid


async def assert_reconciled(sessionmaker: async_sessionmaker[AsyncSession], deal_id: str) -> None:
    async with sessionmaker() as session:
        assert await payments.reconcile(session) == []
        assert await ledger.balance(session, ledger.deal_account(uuid.UUID(deal_id))) == 0


async def finish(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    deal_id: str,
    p: Parties,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Contract, signatures, registration, every milestone paid, payout; returns the contract."""
    registrar = await factory.staff(PlatformRole.registrar)
    finance = await factory.staff(PlatformRole.finance)
    registered = await sign_and_register(client, deal_id, p, registrar, body)
    assert registered.status_code == 200, registered.text
    await pay_everything(client, deal_id, p, finance)
    payout = await client.post(f"/v1/deals/{deal_id}/payouts", headers=finance.headers)
    assert payout.status_code == 201, payout.text
    assert payout.json()["amount"] == Money.yuan(body["total"]["amount"]).to_api()
    await assert_reconciled(sessionmaker, deal_id)
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=p.seller_owner.headers)
    assert contract.json()["state"] == "completed"
    return contract.json()


# --- every origin, to the end ------------------------------------------------------------------


async def test_a_fixed_price_listing_with_one_intent_ends_in_a_paid_registered_contract(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    listing = await factory.listing(p.seller, price_fen=50_000_000)
    await factory.intent(listing, p.buyer)
    clock.set(listing.window_ends_at)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        await listings.close_publication_window(session, listing.id, now=clock.now())

    found = await client.get("/v1/deals", headers=p.buyer_owner.headers)
    deal = found.json()["items"][0]
    assert (deal["source"], deal["price"], deal["contract_state"]) == (
        "fixed_price_listing",
        cny("500000.00"),
        "draft",
    )

    contract = await finish(client, factory, sessionmaker, deal["id"], p, terms("500000"))
    assert contract["registration_number"] == "2026150203000001"


async def test_a_settled_auction_applies_the_deposit_and_the_rest_is_paid(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    auction = await factory.auction(p.seller, start_price_fen=10_000_000)  # deposit 10,000
    await factory.deposit(auction, p.buyer)
    await bid(client, auction, p.buyer_owner, "120000")
    clock.set(auction.ends_at)
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())

    deal = (await client.get("/v1/deals", headers=p.buyer_owner.headers)).json()["items"][0]
    assert (deal["source"], deal["price"], deal["deposit_applied"]) == (
        "auction",
        cny("120000.00"),
        cny("10000.00"),
    )
    body = terms("120000", milestones=["60000", "60000"])
    contract = await finish(client, factory, sessionmaker, deal["id"], p, body)
    assert [m["outstanding"] for m in contract["versions"][-1]["milestones"]] == [cny("0.00")] * 2
    async with sessionmaker() as session:
        received = await payment_queries.received_by_milestone(session, uuid.UUID(deal["id"]))
    assert received == {1: 5_000_000, 2: 6_000_000}  # the deposit paid 10,000 of the first


async def test_a_negotiated_listing_opens_a_deal_with_an_intent_holder_at_the_agreed_price(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    stranger = await factory.organization()
    listing = await factory.listing(p.seller, mode=ListingMode.negotiable)
    await factory.intent(listing, p.buyer)
    body = {
        "source": "negotiation",
        "listing_id": str(listing.id),
        "buyer_organization_id": str(p.buyer.id),
        "price": cny("300000"),
    }
    too_early = await client.post("/v1/deals", json=body, headers=p.seller_owner.headers)
    clock.set(listing.window_ends_at)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        await listings.close_publication_window(session, listing.id, now=clock.now())

    not_holder = await client.post(
        "/v1/deals",
        json={**body, "buyer_organization_id": str(stranger.id)},
        headers=p.seller_owner.headers,
    )
    by_buyer = await client.post("/v1/deals", json=body, headers=p.buyer_owner.headers)
    opened = await client.post("/v1/deals", json=body, headers=p.seller_owner.headers)
    again = await client.post("/v1/deals", json=body, headers=p.seller_owner.headers)

    assert too_early.status_code == 409
    assert not_holder.json()["errors"][0]["code"] == "buyer_not_intent_holder"
    assert by_buyer.status_code == 404  # the buyer is no member of the seller: not theirs to open
    assert opened.status_code == 201, opened.text
    assert again.status_code == 409
    await finish(client, factory, sessionmaker, opened.json()["id"], p, terms("300000"))


async def test_an_off_platform_contract_is_registered_here(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    unverified = await factory.organization(verified=False)
    body = {
        "source": "off_platform",
        "seller_organization_id": str(p.seller.id),
        "buyer_organization_id": str(p.buyer.id),
        "price": cny("80000"),
    }

    refused = await client.post(
        "/v1/deals",
        json={**body, "seller_organization_id": str(unverified.id)},
        headers=p.buyer_owner.headers,
    )
    outsider = await client.post(
        "/v1/deals",
        json=body,
        headers=(await factory.person(await factory.organization(), MemberRole.owner)).headers,
    )
    opened = await client.post("/v1/deals", json=body, headers=p.buyer_owner.headers)

    assert refused.json()["errors"][0]["code"] == "counterparty_unverified"
    assert outsider.status_code == 422
    assert outsider.json()["errors"][0]["code"] == "not_your_organization"
    assert opened.json()["source"] == "off_platform"
    await finish(client, factory, sessionmaker, opened.json()["id"], p, terms("80000"))


# --- contract rules ----------------------------------------------------------------------------


async def off_platform_deal(factory: MarketFactory, p: Parties, price_fen: int = 50_000_000) -> str:
    async with factory.sessionmaker() as session, session.begin():
        deal = await deals.open_deal(
            session,
            source=DealSource.off_platform,
            listing_id=None,
            seller_organization_id=p.seller.id,
            buyer_organization_id=p.buyer.id,
            price=Money(price_fen),
            now=factory.clock.now(),
        )
    return str(deal.id)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (terms(milestones=["100000", "100000"]), "body.milestones", "milestones_sum"),
        (
            terms(transaction_amount=cny("600000")),
            "body.transaction_amount",
            "transaction_above_total",
        ),
        (terms(ends_on="2026-01-01"), "body.ends_on", "term_inverted"),
        (terms(contract_type="licence"), "body.exclusivity", "licence_exclusivity"),
        (terms(exclusivity="exclusive"), "body.exclusivity", "licence_exclusivity"),
        ({**terms(), "total": cny("100.001")}, "body.total", "money_format"),
        (terms(contract_type="sale"), "body.contract_type", "enum"),
        ({**terms(), "milestones": []}, "body.milestones", "too_short"),
    ],
)
async def test_bad_contract_terms_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, factory: MarketFactory, body: dict[str, Any], field: str, code: str
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p)

    response = await client.put(
        f"/v1/deals/{deal_id}/contract", json=body, headers=p.seller_owner.headers
    )
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=p.seller_owner.headers)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["errors"][0]["code"] == code
    assert contract.json()["versions"] == []


async def test_signing_needs_an_authorized_member_and_outsiders_see_nothing(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p)
    plain = await factory.person(p.buyer, MemberRole.member)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    await client.put(f"/v1/deals/{deal_id}/contract", json=terms(), headers=p.seller_owner.headers)

    by_member = await client.post(
        f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=plain.headers
    )
    read_by_member = await client.get(f"/v1/deals/{deal_id}/contract", headers=plain.headers)
    for path in ("", "/contract", "/payments"):
        assert (
            await client.get(f"/v1/deals/{deal_id}{path}", headers=outsider.headers)
        ).status_code == 404
    by_outsider = await client.post(
        f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=outsider.headers
    )
    listed = await client.get("/v1/deals", headers=outsider.headers)

    assert by_member.status_code == 403
    assert read_by_member.status_code == 200
    assert by_outsider.status_code == 404
    assert listed.json()["items"] == []


async def test_a_signed_version_is_amended_not_edited(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p)
    await client.put(f"/v1/deals/{deal_id}/contract", json=terms(), headers=p.seller_owner.headers)
    await client.post(
        f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=p.seller_owner.headers
    )
    # A change before the other side signs replaces the draft, and the signature falls.
    redrafted = await client.put(
        f"/v1/deals/{deal_id}/contract",
        json=terms(subject="改名后的项目名称"),
        headers=p.buyer_owner.headers,
    )
    assert redrafted.json()["versions"][0]["seller_signature"] is None
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers)

    amended = await client.put(
        f"/v1/deals/{deal_id}/contract",
        json=terms("600000", milestones=["300000", "300000"]),
        headers=p.buyer_owner.headers,
    )
    stale = await client.post(
        f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=p.seller_owner.headers
    )
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{deal_id}/sign", json={"version": 2}, headers=person.headers)
    contract = (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    ).json()

    assert [v["number"] for v in amended.json()["versions"]] == [1, 2]
    assert amended.json()["effective_version"] == 1
    assert stale.status_code == 409
    assert contract["effective_version"] == 2
    assert contract["state"] == "signed"
    assert contract["versions"][0]["total"] == cny("500000.00")  # version 1 unchanged
    assert contract["versions"][0]["subject"] == "改名后的项目名称"


async def test_registration_needs_a_signed_complete_contract_and_numbers_have_no_gaps(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    reviewer = await factory.staff(PlatformRole.reviewer)
    unsigned = await off_platform_deal(factory, p)
    await client.put(f"/v1/deals/{unsigned}/contract", json=terms(), headers=p.seller_owner.headers)

    not_signed = await client.post(
        f"/v1/deals/{unsigned}/register", json={"decision": "register"}, headers=registrar.headers
    )
    incomplete = await sign_and_register(
        client, await off_platform_deal(factory, p), p, registrar, terms(content=None)
    )
    not_registrar = await client.post(
        f"/v1/deals/{unsigned}/register", json={"decision": "register"}, headers=reviewer.headers
    )

    assert not_signed.status_code == 409
    assert incomplete.status_code == 422
    assert incomplete.json()["code"] == "registration_incomplete"
    assert incomplete.json()["reasons"] == ["content_missing"]
    assert not_registrar.status_code == 403

    deal_ids = [await off_platform_deal(factory, p) for _ in range(5)]
    for deal_id in deal_ids:
        await client.put(
            f"/v1/deals/{deal_id}/contract", json=terms(), headers=p.seller_owner.headers
        )
        for person in (p.seller_owner, p.buyer_owner):
            await client.post(
                f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=person.headers
            )
    registered = await asyncio.gather(
        *(
            client.post(
                f"/v1/deals/{deal_id}/register",
                json={"decision": "register"},
                headers=registrar.headers,
            )
            for deal_id in deal_ids
        )
    )
    numbers = sorted(r.json()["registration_number"] for r in registered)
    assert numbers == [f"2026150203{n:06d}" for n in range(1, 6)]


async def test_a_refused_registration_gives_reasons(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p)
    await sign_and_register(client, deal_id, p, registrar, terms())  # registered; use another
    other = await off_platform_deal(factory, p)
    await client.put(f"/v1/deals/{other}/contract", json=terms(), headers=p.seller_owner.headers)
    for person in (p.seller_owner, p.buyer_owner):
        await client.post(f"/v1/deals/{other}/sign", json={"version": 1}, headers=person.headers)

    without = await client.post(
        f"/v1/deals/{other}/register", json={"decision": "reject"}, headers=registrar.headers
    )
    refused = await client.post(
        f"/v1/deals/{other}/register",
        json={"decision": "reject", "reasons": ["技术交易额与合同附件不一致"]},
        headers=registrar.headers,
    )

    assert without.json()["errors"][0]["field"] == "body.reasons"
    assert refused.json()["state"] == "signed"
    assert refused.json()["rejection_reasons"] == ["技术交易额与合同附件不一致"]


async def test_payments_wait_for_a_signed_contract_and_a_paid_milestone_is_refused(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    finance = await factory.staff(PlatformRole.finance)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p)

    early = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    await sign_and_register(client, deal_id, p, registrar, terms())
    by_seller = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.seller_owner.headers
    )
    unknown = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 9}, headers=p.buyer_owner.headers
    )
    first = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    same = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    not_finance = await client.post(
        f"/v1/payments/{first.json()['id']}/confirm", headers=registrar.headers
    )
    await client.post(f"/v1/payments/{first.json()['id']}/confirm", headers=finance.headers)
    twice = await client.post(f"/v1/payments/{first.json()['id']}/confirm", headers=finance.headers)
    paid = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)

    assert early.status_code == 409
    assert by_seller.status_code == 403
    assert unknown.json()["errors"][0]["code"] == "no_such_milestone"
    assert first.json()["amount"] == cny("250000.00")
    assert first.json()["instructions"]["remark"] == first.json()["reference"]
    assert same.json()["id"] == first.json()["id"]
    assert not_finance.status_code == 403
    assert twice.json()["state"] == "received"
    assert paid.json()["errors"][0]["code"] == "milestone_paid"
    assert contract.json()["state"] == "performing"


async def test_the_ledger_refuses_unbalanced_journals_and_changes(
    factory: MarketFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    p = await parties(factory)
    deal_id = uuid.UUID(await off_platform_deal(factory, p))
    async with sessionmaker() as session:
        session.add_all(
            [
                LedgerEntry(
                    journal_id=uuid.uuid4(),
                    account="bank:offline",
                    amount_fen=100,
                    memo="x",
                    at=factory.clock.now(),
                )
            ]
        )
        with pytest.raises(DBAPIError, match="does not balance"):
            await session.commit()
    async with sessionmaker() as session, session.begin():
        ledger.transfer(
            session,
            debit="bank:offline",
            credit=ledger.deal_account(deal_id),
            amount_fen=100,
            memo="y",
            now=factory.clock.now(),
        )
    async with sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("UPDATE ledger_entries SET amount_fen = 5"))
        await session.rollback()
        assert await ledger.balance(session, ledger.deal_account(deal_id)) == -100
        problems = await payments.reconcile(session)
    assert [problem.what for problem in problems] == [f"deal {deal_id}"]  # no payment behind it


def test_techx_ledger_check_reports_what_does_not_reconcile(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        clean = CliRunner().invoke(cli, ["ledger-check"])
        with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
            deal_id = connection.execute("SELECT gen_random_uuid()").fetchone()[0]  # type: ignore[index]
            # A balanced journal that no payment stands behind.
            connection.execute(
                "INSERT INTO ledger_entries (journal_id, account, amount_fen, memo, at) "
                "SELECT j, account, amount, 'stray', now() FROM gen_random_uuid() AS j, "
                "(VALUES (%s, -500), ('bank:offline', 500)) AS lines (account, amount)",
                (f"deal:{deal_id}",),
            )
        broken = CliRunner().invoke(cli, ["ledger-check"])
    finally:
        get_settings.cache_clear()

    assert clean.exit_code == 0, clean.output
    assert "ledger reconciles" in clean.output
    assert broken.exit_code == 1
    assert f"deal {deal_id}: off by 500 fen" in broken.output


async def test_the_contract_pdf_embeds_its_chinese_font_and_reads_back(
    client: httpx.AsyncClient, factory: MarketFactory, tmp_path: Any
) -> None:
    import pypdfium2
    from pypdf import PdfReader

    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p)
    empty = await client.get(f"/v1/deals/{deal_id}/contract.pdf", headers=p.buyer_owner.headers)
    await sign_and_register(client, deal_id, p, registrar, terms())
    outsider = await factory.person(await factory.organization(), MemberRole.owner)

    response = await client.get(f"/v1/deals/{deal_id}/contract.pdf", headers=p.buyer_owner.headers)
    hidden = await client.get(f"/v1/deals/{deal_id}/contract.pdf", headers=outsider.headers)

    assert empty.status_code == 409
    assert hidden.status_code == 404
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    path = tmp_path / "contract.pdf"
    path.write_bytes(response.content)
    reader = PdfReader(path)
    fonts = [
        font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()
    ]
    descriptor = fonts[0]["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    assert "/FontFile2" in descriptor  # the TrueType font travels inside the file
    text = reader.pages[0].extract_text()
    for expected in (
        "技术合同摘要",
        "稀土永磁材料制备技术转让",
        "2026150203000001",
        "让与人（卖方）",
        "250,000.00 元",
    ):
        assert expected in text
    # Rendered, the page has ink on it (glyphs, not empty boxes, were embedded).
    image = pypdfium2.PdfDocument(str(path))[0].render(scale=1).to_pil().convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 2_000


async def test_a_refund_before_the_payout_makes_the_milestone_due_again_and_the_ledger_still_reconciles(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await parties(factory)
    finance = await factory.staff(PlatformRole.finance)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p)
    await sign_and_register(client, deal_id, p, registrar, terms())
    first, second = await pay_everything(client, deal_id, p, finance)
    assert (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    ).json()["state"] == "completed"

    refunded = await client.post(
        f"/v1/payments/{second['id']}/refund", json={"reason": "重复付款"}, headers=finance.headers
    )
    again = await client.post(
        f"/v1/payments/{second['id']}/refund", json={"reason": "x"}, headers=finance.headers
    )
    contract = (
        await client.get(f"/v1/deals/{deal_id}/contract", headers=p.buyer_owner.headers)
    ).json()
    await client.post(f"/v1/deals/{deal_id}/payouts", headers=finance.headers)
    after_payout = await client.post(
        f"/v1/payments/{first['id']}/refund", json={"reason": "x"}, headers=finance.headers
    )

    assert refunded.json()["state"] == "refunded"
    assert refunded.json()["refund_reason"] == "重复付款"
    assert again.status_code == 409
    assert contract["state"] == "performing"
    assert contract["versions"][0]["milestones"][1]["outstanding"] == cny("250000.00")
    assert after_payout.json()["code"] == "invalid_state"
    async with sessionmaker() as session:
        assert await payments.reconcile(session) == []
        assert await ledger.balance(session, ledger.deal_account(uuid.UUID(deal_id))) == 0


async def test_a_registrar_records_a_termination_with_its_reason(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    deal_id = await off_platform_deal(factory, p)
    await sign_and_register(client, deal_id, p, registrar, terms())

    by_party = await client.post(
        f"/v1/deals/{deal_id}/terminate", json={"reason": "x"}, headers=p.seller_owner.headers
    )
    ended = await client.post(
        f"/v1/deals/{deal_id}/terminate", json={"reason": "双方协商解除"}, headers=registrar.headers
    )
    twice = await client.post(
        f"/v1/deals/{deal_id}/terminate", json={"reason": "x"}, headers=registrar.headers
    )
    pay = await client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    amend = await client.put(
        f"/v1/deals/{deal_id}/contract", json=terms(), headers=p.buyer_owner.headers
    )

    assert by_party.status_code == 403
    assert (ended.json()["state"], ended.json()["termination_reason"]) == (
        "terminated",
        "双方协商解除",
    )
    assert twice.status_code == amend.status_code == pay.status_code == 409


async def test_the_parties_name_active_brokers_until_registration(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    from app.accounts.models import BrokerStatus

    p = await parties(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    active = await factory.broker(await factory.person())
    pending = await factory.broker(await factory.person(), status=BrokerStatus.pending)
    deal_id = await off_platform_deal(factory, p)

    refused = await client.put(
        f"/v1/deals/{deal_id}/brokers",
        json={"broker_ids": [str(active.id), str(pending.id)]},
        headers=p.buyer_owner.headers,
    )
    named = await client.put(
        f"/v1/deals/{deal_id}/brokers",
        json={"broker_ids": [str(active.id), str(active.id)]},
        headers=p.buyer_owner.headers,
    )
    await sign_and_register(client, deal_id, p, registrar, terms())
    late = await client.put(
        f"/v1/deals/{deal_id}/brokers", json={"broker_ids": []}, headers=p.seller_owner.headers
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "broker_inactive"
    assert str(pending.id) in refused.json()["errors"][0]["message"]
    assert named.json()["broker_ids"] == [str(active.id)]
    assert late.status_code == 409


async def test_the_content_registration_needs_is_in_the_contract_schema(
    client: httpx.AsyncClient, factory: MarketFactory, app: Any
) -> None:
    p = await parties(factory)
    deal_id = await off_platform_deal(factory, p)

    short = await client.put(
        f"/v1/deals/{deal_id}/contract",
        json=terms(content="技术转让。"),
        headers=p.seller_owner.headers,
    )
    schema = app.openapi()["components"]["schemas"]["ContractTerms"]["properties"]["content"]

    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "body.content"
    assert short.json()["errors"][0]["code"] == "string_too_short"
    [text] = [option for option in schema["anyOf"] if option["type"] == "string"]
    assert (text["minLength"], text["maxLength"]) == (20, 20000)
    assert "pattern" in text  # twenty characters from the first visible one to the last

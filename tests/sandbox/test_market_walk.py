"""The whole market walked through HTTP on the sandbox clock alone, as a province's operator
evaluating the platform would: no frozen clock, no direct calls to the worker — time moves only
by `POST /v1/sandbox/clock`, and what came due runs on the way.

A university lists a patent; a reviewer publishes it; two enterprises register intent; the
window closes into an auction between them; both lodge deposits; one sets a proxy bid, the
other bids in the last minute and extends the end; the auction settles with the deposit
applied; both sign the contract, the registrar registers it, the buyer pays; a broker's claim
and the buyer's post-subsidy are approved, the rewards computed and paid; the buyer also
commissions development from the university; at the period ends the seller's VAT and
income-tax filings and the buyer's super-deduction are filed. The buyer's ERP hears it all by
signed webhooks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import BEIJING, SandboxClock
from app.demo_history import TYPICAL_SUBTYPES
from app.webhooks import signing
from tests.factories import RESULT_BODY, MarketFactory, Person


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


class Receiver:
    """A real HTTP server standing in for the buyer's ERP: it keeps every delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/techx"

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.deliveries]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    erp = Receiver()
    thread = threading.Thread(target=erp.server.serve_forever, daemon=True)
    thread.start()
    yield erp
    erp.server.shutdown()


class Walk:
    """The people of the walk and the one way time moves."""

    def __init__(self, client: httpx.AsyncClient, admin: Person) -> None:
        self.client = client
        self.admin = admin
        self.ran: list[dict[str, Any]] = []

    async def move(self, **body: str) -> datetime:
        moved = await self.client.post("/v1/sandbox/clock", json=body, headers=self.admin.headers)
        assert moved.status_code == 200, moved.text
        self.ran += moved.json()["ran"]
        return datetime.fromisoformat(moved.json()["now"])

    async def move_to(self, instant: datetime) -> datetime:
        return await self.move(to=instant.isoformat())

    async def contract(
        self, deal_id: str, body: dict[str, Any], seller: Person, buyer: Person, registrar: Person
    ) -> Any:
        """Drafted by the seller, signed by both, registered; returns the registered contract."""
        drafted = await self.call("PUT", f"/v1/deals/{deal_id}/contract", seller, json=body)
        version = drafted["versions"][-1]["number"]
        for owner in (seller, buyer):
            await self.call("POST", f"/v1/deals/{deal_id}/sign", owner, json={"version": version})
        return await self.call(
            "POST", f"/v1/deals/{deal_id}/register", registrar, json={"decision": "register"}
        )

    async def call(
        self, method: str, path: str, who: Person, expect: int = 200, **kwargs: Any
    ) -> Any:
        response = await self.client.request(method, path, headers=who.headers, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response.json() if response.content else None


def contract_body(kind: str, total: str, milestones: list[str], today: datetime) -> dict[str, Any]:
    day = today.astimezone(BEIJING).date()
    return {
        "contract_type": kind,
        "subtype": TYPICAL_SUBTYPES[kind],
        "technology_field": "new_materials.rare_earths",
        "subject": "稀土永磁材料制备技术转让" if kind == "transfer" else "稀土永磁材料中试工艺开发",
        "content": "甲方将其拥有的稀土永磁材料制备技术转让给乙方，并提供技术指导与培训。"
        if kind == "transfer"
        else "乙方委托甲方开发稀土永磁材料中试工艺，甲方交付工艺包并指导试生产。",
        "total": cny(total),
        "transaction_amount": cny(total),
        "starts_on": day.isoformat(),
        "ends_on": day.replace(year=day.year + 1).isoformat(),
        "milestones": [
            {"amount": cny(amount), "due_on": (day + timedelta(days=30 * (n + 1))).isoformat()}
            for n, amount in enumerate(milestones)
        ],
    }


async def test_a_listing_becomes_an_auction_a_deal_rewards_and_filings_on_the_sandbox_clock(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: SandboxClock,
    receiver: Receiver,
) -> None:
    university = await factory.organization(OrganizationKind.university, division_code="150203")
    tto = await factory.person(university, MemberRole.owner)
    first = await factory.organization(division_code="150102")
    first_owner = await factory.person(first, MemberRole.owner)
    second = await factory.organization(division_code="150207")
    second_owner = await factory.person(second, MemberRole.owner)
    reviewer = await factory.staff(PlatformRole.reviewer)
    finance = await factory.staff(PlatformRole.finance)
    registrar = await factory.staff(PlatformRole.registrar)
    broker = await factory.person()
    await factory.broker(broker)
    walk = Walk(client, await factory.staff(PlatformRole.admin))
    started = clock.now()

    # The second enterprise's ERP subscribes to what concerns it.
    endpoint = await walk.call(
        "POST",
        "/v1/webhook-endpoints",
        second_owner,
        201,
        json={
            "url": receiver.url,
            "event_types": [
                "auction.opened",
                "auction.bid_placed",
                "auction.extended",
                "deal.opened",
                "contract.registered",
                "filing.ready",
            ],
        },
    )

    # 挂牌: a result, a fixed-price listing with a 15-day window, reviewed and published.
    patent = {
        **RESULT_BODY,
        "kind": "invention_patent",
        "ip_number": "201710601862.3",
        "legal_status": "granted",
        "organization_id": str(university.id),
    }
    result = await walk.call("POST", "/v1/results", tto, 201, json=patent)
    listing = await walk.call(
        "POST",
        "/v1/listings",
        tto,
        201,
        json={
            "result_id": result["id"],
            "mode": "fixed_price",
            "transfer_type": "assignment",
            "price": cny("1000000.00"),
            "window_days": 15,
        },
    )
    await walk.call("POST", f"/v1/listings/{listing['id']}/submit", tto)
    published = await walk.call("POST", f"/v1/listings/{listing['id']}/approve", reviewer)
    assert published["state"] == "published"
    for enterprise, owner in ((first, first_owner), (second, second_owner)):
        await walk.call(
            "POST",
            f"/v1/listings/{listing['id']}/intents",
            owner,
            201,
            json={"organization_id": str(enterprise.id)},
        )

    # 公示期 ends: two intents turn the listing into an auction between their holders.
    window_ends_at = datetime.fromisoformat(published["window_ends_at"])
    await walk.move_to(window_ends_at + timedelta(minutes=1))
    closed = await walk.call("GET", f"/v1/listings/{listing['id']}", tto)
    assert (closed["state"], closed["outcome"]) == ("closed", "to_auction")
    auction = (await walk.call("GET", "/v1/auctions", first_owner))["items"][0]
    assert auction["state"] == "scheduled"

    # 保证金: both lodge a deposit; finance confirms the transfers.
    for enterprise, owner in ((first, first_owner), (second, second_owner)):
        deposit = await walk.call(
            "POST",
            f"/v1/auctions/{auction['id']}/deposits",
            owner,
            201,
            json={"organization_id": str(enterprise.id)},
        )
        await walk.call(
            "POST", f"/v1/auctions/{auction['id']}/deposits/{deposit['id']}/confirm", finance
        )

    # The auction opens when its start comes; the first leaves a proxy bid, which answers the
    # second's bid.
    await walk.move_to(datetime.fromisoformat(auction["starts_at"]) + timedelta(minutes=1))
    await walk.call(
        "POST",
        f"/v1/auctions/{auction['id']}/proxy-bids",
        first_owner,
        201,
        json={"maximum": cny("1100000.00"), "organization_id": str(first.id)},
    )
    await walk.call(
        "POST",
        f"/v1/auctions/{auction['id']}/bids",
        second_owner,
        201,
        json={"amount": cny("1010000.00"), "organization_id": str(second.id)},
    )
    live = await walk.call("GET", f"/v1/auctions/{auction['id']}", first_owner)
    assert live["state"] == "open"
    assert live["current_price"] == cny("1020000.00")  # the proxy outbid by one increment

    # A bid in the last two minutes extends the end (anti-sniping).
    ends_at = datetime.fromisoformat(live["ends_at"])
    await walk.move_to(ends_at - timedelta(minutes=2))
    last_minute = await walk.call(
        "POST",
        f"/v1/auctions/{auction['id']}/bids",
        second_owner,
        201,
        json={"amount": cny("1150000.00"), "organization_id": str(second.id)},
    )
    extended = await walk.call("GET", f"/v1/auctions/{auction['id']}", second_owner)
    assert datetime.fromisoformat(extended["ends_at"]) > ends_at, last_minute

    # 落槌: it closes at the extended end and settles; the winner's deposit is applied.
    await walk.move(advance="PT10M")
    settled = await walk.call("GET", f"/v1/auctions/{auction['id']}", second_owner)
    assert settled["state"] == "settled"
    deal = (await walk.call("GET", "/v1/deals", second_owner))["items"][0]
    assert (deal["source"], deal["price"], deal["deposit_applied"]) == (
        "auction",
        cny("1150000.00"),
        cny("100000.00"),
    )

    # 技术合同: drafted, signed by both, registered (认定登记), paid.
    body = contract_body("transfer", "1150000", ["575000", "575000"], clock.now())
    registered = await walk.contract(deal["id"], body, tto, second_owner, registrar)
    assert registered["registration_number"].startswith(str(clock.now().astimezone(BEIJING).year))
    await pay_everything(walk, deal["id"], second_owner, finance)

    # The buyer also commissions development of the pilot process from the university.
    development = await walk.call(
        "POST",
        "/v1/deals",
        second_owner,
        201,
        json={
            "source": "off_platform",
            "seller_organization_id": str(university.id),
            "buyer_organization_id": str(second.id),
            "price": cny("200000.00"),
        },
    )
    body = contract_body("development", "200000", ["200000"], clock.now())
    await walk.contract(development["id"], body, tto, second_owner, registrar)
    await pay_everything(walk, development["id"], second_owner, finance)

    # 奖补: the broker's attribution (confirmed by the seller) and the buyer's post-subsidy.
    claim = await walk.call(
        "POST",
        "/v1/broker-claims",
        broker,
        201,
        json={"kind": "broker", "deal_id": deal["id"], "role": "matching", "share": "100"},
    )
    await walk.call("POST", f"/v1/broker-claims/{claim['id']}/confirm", tto, json={})
    subsidy = await walk.call(
        "POST",
        "/v1/broker-claims",
        second_owner,
        201,
        json={"kind": "party", "deal_id": deal["id"], "organization_id": str(second.id)},
    )
    for approved in (claim, subsidy):
        await walk.call("POST", f"/v1/broker-claims/{approved['id']}/approve", reviewer, json={})
    await walk.move(advance="PT1H")  # the worker computes the rewards from the approvals
    rewards = {
        reward["claim"]["kind"]: reward["amount"]
        for reward in await walk.call("GET", "/v1/rewards", second_owner)
    }
    # The buyer's subsidy: 10 % × 1,000,000 + 5 % × 150,000 (内科发成字〔2021〕12号); the
    # broker's commission (the shipped example policy): 3 % × 1,000,000 + 2 % × 150,000.
    assert rewards == {"party": cny("107500.00"), "broker": cny("33000.00")}
    period = clock.now().astimezone(BEIJING).strftime("%Y-%m")
    payouts = await walk.call("POST", "/v1/payouts", finance, 201, json={"period": period})
    assert {payout["organization_id"] for payout in payouts if payout["organization_id"]} == {
        str(second.id)
    }
    assert len(payouts) == 2  # the buyer's subsidy and the broker's commission

    # The year ends: every period the payments fell in is filed on the way.
    year = clock.now().astimezone(BEIJING).year
    await walk.move_to(datetime(year + 1, 1, 1, 0, 10, tzinfo=BEIJING))
    seller_filings = (await walk.call("GET", f"/v1/tax/filings?taxpayer_id={university.id}", tto))[
        "items"
    ]
    buyer_filings = (
        await walk.call("GET", f"/v1/tax/filings?taxpayer_id={second.id}", second_owner)
    )["items"]
    seller_kinds = {(filing["kind"], filing["period"]) for filing in seller_filings}
    assert ("eit_transfer_income", str(year)) in seller_kinds
    assert any(kind == "vat_exemption" for kind, _ in seller_kinds)
    assert {(f["kind"], f["period"]) for f in buyer_filings} == {("rd_super_deduction", str(year))}
    eit = next(f for f in seller_filings if f["kind"] == "eit_transfer_income")
    assert [line["deal_id"] for line in eit["content"]["lines"] if line["included"]] == [deal["id"]]
    # The applied deposit is money received: 100,000 + 525,000 + 525,000.
    assert eit["content"]["lines"][0]["revenue"] == "1150000.00"
    vat_lines = [
        line
        for filing in seller_filings
        if filing["kind"] == "vat_exemption"
        for line in filing["content"]["lines"]
    ]
    assert {line["deal_id"] for line in vat_lines if line["exempt"]} == {
        deal["id"],
        development["id"],
    }
    assert sum(Decimal(line["received"]) for line in vat_lines if line["exempt"]) == Decimal(
        "1350000.00"
    )

    # Everything happened at its time, and the ERP heard what it subscribed to, signed.
    assert clock.now() - started > timedelta(days=20)
    assert receiver.types()[:1] == ["auction.opened"]
    assert {"auction.bid_placed", "auction.extended", "deal.opened", "contract.registered"} <= set(
        receiver.types()
    )
    secret = endpoint["secret"]
    for headers, body in receiver.deliveries:
        header = headers.get("Techx-Signature") or headers["techx-signature"]
        assert signing.verify(header, body, secret, now=int(clock.wall().timestamp()))


async def pay_everything(walk: Walk, deal_id: str, buyer: Person, finance: Person) -> None:
    contract = await walk.call("GET", f"/v1/deals/{deal_id}/contract", buyer)
    for milestone in contract["versions"][-1]["milestones"]:
        if milestone["outstanding"]["amount"] == "0.00":
            continue
        asked = await walk.call(
            "POST",
            f"/v1/deals/{deal_id}/payments",
            buyer,
            201,
            json={"milestone": milestone["number"]},
        )
        await walk.call("POST", f"/v1/payments/{asked['id']}/confirm", finance)

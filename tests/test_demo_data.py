"""Demo data: realistic organizations, every role, brokers, logins that work, and a market
that shows every stage — dated from the clock, so it is fresh on any day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from stdnum.cn import uscc

from app.accounts.demo import DEMO_PASSWORD, ORGANIZATIONS
from app.accounts.identifiers import divisions
from app.core.clock import BEIJING, FrozenClock
from app.core.config import Settings
from app.demo import seed_if_empty
from app.main import create_app
from app.results.taxonomy import fields


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await client.post("/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, email
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_seeding_once_gives_working_logins(
    settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    seeded = await seed_if_empty(settings, clock)
    second = await seed_if_empty(settings, clock)

    assert seeded is not None
    assert second is None
    for email in ("admin@techx.demo", "tto@imu.techx.demo", "broker1@agency.techx.demo"):
        token = await client.post(
            "/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}
        )
        assert token.status_code == 200, email
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["broker_profile_id"] is not None


async def test_the_demo_market_is_alive(
    settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await seed_if_empty(settings, clock)
    token = await client.post(
        "/v1/auth/token", data={"username": "rd@dairy.techx.demo", "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    published = []
    cursor = None
    while True:
        params = {"state": "published", "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/listings", params=params, headers=headers)).json()
        published += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert len(published) >= 200
    assert {item["result"]["field_code"].split(".")[0] for item in published} == {
        code for code, field in fields().items() if field.parent is None
    }
    intent = await client.post(
        f"/v1/listings/{published[0]['id']}/intents", json={}, headers=headers
    )
    assert intent.status_code == 201, intent.text


def test_demo_organizations_have_valid_codes() -> None:
    from app.accounts.demo import demo_credit_code

    for organization in ORGANIZATIONS:
        code = demo_credit_code(organization.name, organization.division_code, organization.kind)
        assert uscc.is_valid(code)
        assert organization.division_code.startswith("15")
        assert organization.division_code in divisions()


async def test_create_admin_makes_a_platform_admin(
    database_url: str, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    from app.accounts.demo import create_platform_admin

    await create_platform_admin(database_url, "root@techx.cn", "Root-pass-2026", "管理员", clock)
    token = await client.post(
        "/v1/auth/token", data={"username": "root@techx.cn", "password": "Root-pass-2026"}
    )
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )

    assert me.json()["platform_roles"] == ["admin"]
    assert me.json()["memberships"][0]["organization_kind"] == "platform"


@pytest.fixture(
    params=[
        datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING),
        datetime(2027, 1, 1, 0, 20, tzinfo=BEIJING),  # the first minutes of a year
        datetime(2026, 12, 31, 23, 30, tzinfo=BEIJING),  # its last
        datetime(2028, 3, 1, 9, 0, tzinfo=BEIJING),  # after a leap day
    ],
    ids=lambda day: day.strftime("%Y-%m-%dT%H:%M"),
)
async def demo_day(
    request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo seeded on a given day, and the app on that day."""
    clock.set(request.param.astimezone(UTC))
    app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://demo.test"
    ) as http:
        seeded = await seed_if_empty(settings, clock)
        assert seeded is not None
        yield http
    await app.state.engine.dispose()


async def test_the_demo_market_shows_every_stage_on_any_day(
    demo_day: httpx.AsyncClient, clock: FrozenClock
) -> None:
    client, now = demo_day, clock.now()
    wind = await sign_in(client, "rd@wind.techx.demo")
    magnet = await sign_in(client, "cto@magnet.techx.demo")
    imu = await sign_in(client, "tto@imu.techx.demo")
    broker = await sign_in(client, "broker1@agency.techx.demo")
    coal = await sign_in(client, "rd@coal.techx.demo")

    auctions = (await client.get("/v1/auctions?limit=100", headers=wind)).json()["items"]
    live = next(a for a in auctions if a["state"] == "open")
    scheduled = [a for a in auctions if a["state"] == "scheduled"]
    proxies = (await client.get(f"/v1/auctions/{live['id']}/proxy-bids", headers=magnet)).json()
    bids = (await client.get(f"/v1/auctions/{live['id']}/bids", headers=wind)).json()
    deals = (await client.get("/v1/deals?limit=100", headers=imu)).json()["items"]
    pending = (await client.get("/v1/deals?limit=100", headers=magnet)).json()["items"]
    rewards = (await client.get("/v1/rewards", headers=broker)).json()
    subsidy = (await client.get("/v1/rewards", headers=magnet)).json()
    filings = (await client.get("/v1/tax/filings?limit=100", headers=imu)).json()["items"]
    demands = (await client.get("/v1/demands", headers=coal)).json()["items"]
    matches = (await client.get(f"/v1/demands/{demands[0]['id']}/matches", headers=coal)).json()
    endpoints = (await client.get("/v1/webhook-endpoints", headers=magnet)).json()
    deliveries = (
        await client.get(f"/v1/webhook-endpoints/{endpoints[0]['id']}/deliveries", headers=magnet)
    ).json()

    # An auction open now, ending in about two hours, with both enterprises bidding and a proxy.
    assert datetime.fromisoformat(live["ends_at"]) - now == timedelta(hours=2)
    assert live["bid_count"] >= 3
    assert len({bid["paddle"] for bid in bids["items"]}) == 2
    assert [proxy["maximum"] for proxy in proxies] == [{"amount": "2300000.00", "currency": "CNY"}]
    assert len(scheduled) == 1
    assert datetime.fromisoformat(scheduled[0]["starts_at"]) > now
    # A contract awaiting its second signature; a year of registered, paid contracts.
    awaiting = [d for d in pending if d["contract_state"] == "draft"]
    assert len(awaiting) == 1
    contract = (await client.get(f"/v1/deals/{awaiting[0]['id']}/contract", headers=magnet)).json()
    version = contract["versions"][-1]
    assert version["seller_signature"] is not None
    assert version["buyer_signature"] is None
    completed = [d for d in deals if d["contract_state"] == "completed"]
    assert len(completed) == 4  # the university's own: two patents, two development contracts
    assert all(now - datetime.fromisoformat(d["opened_at"]) < timedelta(days=400) for d in deals)
    # Approved claims with computed rewards, some paid; the buyer's post-subsidy too.
    assert {r["claim"]["state"] for r in rewards} == {"approved"}
    assert any(r["paid"]["amount"] == r["amount"]["amount"] for r in rewards)
    assert any(r["paid"]["amount"] != r["amount"]["amount"] for r in rewards)
    assert any(r["claim"]["kind"] == "party" for r in subsidy)
    # The university's filings of the last closed month (VAT) and year (income tax), submitted.
    local = now.astimezone(BEIJING)
    last_month = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    submitted = {(f["kind"], f["period"]) for f in filings if f["state"] == "submitted"}
    assert submitted == {
        ("vat_exemption", last_month),
        ("eit_transfer_income", str(local.year - 1)),
    }
    # A demand with matches; a webhook endpoint with deliveries waiting for the worker.
    assert matches
    assert deliveries["items"]
    # Open challenges (揭榜挂帅): one awarded, its development contract signed; one published,
    # taking proposals until a deadline still ahead.
    challenges = (await client.get("/v1/challenges", headers=wind)).json()["items"]
    states = {c["state"]: c for c in challenges}
    assert set(states) == {"concluded", "published"}
    assert datetime.fromisoformat(states["published"]["proposals_due_at"]) > now
    imau = await sign_in(client, "tto@imau.techx.demo")
    mine = await client.get(f"/v1/challenges/{states['published']['id']}/proposals", headers=imau)
    assert len(mine.json()) == 1
    award = await client.get(f"/v1/challenges/{states['concluded']['id']}/award", headers=wind)
    contract_of_award = await client.get(
        f"/v1/deals/{award.json()['deal_id']}/contract", headers=wind
    )
    assert award.json()["state"] == "confirmed"
    assert contract_of_award.json()["state"] == "signed"

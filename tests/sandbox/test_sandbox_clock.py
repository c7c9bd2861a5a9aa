"""The sandbox clock: read, moved forward only, shared by every process, due work run in time
order and exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.auctions.models import Auction, AuctionState
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import BEIJING, SandboxClock
from app.core.config import Settings
from app.listings.models import Listing, ListingOutcome, ListingTransition
from app.main import create_app
from app.sandbox import service
from app.sandbox.follower import ClockFollower
from tests.factories import MarketFactory, Person
from tests.market import publish_listing


async def admin(factory: MarketFactory) -> Person:
    return await factory.staff(PlatformRole.admin)


async def move(client: httpx.AsyncClient, who: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/v1/sandbox/clock", json=body, headers=who)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_the_clock_reads_the_system_time_until_moved(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    person = await factory.person(await factory.organization())

    before = datetime.now(UTC)
    clock = await client.get("/v1/sandbox/clock", headers=person.headers)

    assert clock.status_code == 200, clock.text
    assert before <= instant(clock.json()["now"]) <= datetime.now(UTC)
    assert clock.json()["ahead_by"] == "PT0S"


async def test_an_admin_advances_the_clock_for_everyone(
    client: httpx.AsyncClient, factory: MarketFactory, clock: SandboxClock
) -> None:
    staff = await admin(factory)
    person = await factory.person(await factory.organization())

    moved = await move(client, staff.headers, advance="P16DT2H")
    read = await client.get("/v1/sandbox/clock", headers=person.headers)

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["ahead_by"] == "P16DT2H"
    assert instant(body["now"]) - instant(body["moved_from"]) >= timedelta(days=16, hours=2)
    assert read.json()["ahead_by"] == "P16DT2H"
    assert clock.now() - datetime.now(UTC) >= timedelta(days=16, hours=2) - timedelta(seconds=1)
    # Each periodic task once for the whole jump, at the end.
    periodic = [ran["task"] for ran in body["ran"] if ran["at"] == body["ran"][-1]["at"]]
    assert sorted(periodic) == sorted(
        {
            "relay_outbox",
            "sweep_publication_windows",
            "sweep_auctions",
            "sweep_award_publicity",
            "deliver_webhooks",
            "file_closed_periods",
            "purge_idempotency_keys",
            "purge_rate_limit_counters",
        }
    )


async def test_moving_to_an_instant(client: httpx.AsyncClient, factory: MarketFactory) -> None:
    staff = await admin(factory)
    target = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)

    moved = await move(client, staff.headers, to=target.astimezone(BEIJING).isoformat())

    assert moved.status_code == 200, moved.text
    assert target <= instant(moved.json()["now"]) < target + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"advance": "P1M"}, "body.advance", "duration_format"),
        ({"advance": "P1Y"}, "body.advance", "duration_format"),
        ({"advance": "-P1D"}, "body.advance", "duration_format"),
        ({"advance": "16 days"}, "body.advance", "duration_format"),
        ({"advance": "PT"}, "body.advance", "duration_format"),
        ({"advance": "P0D"}, "body.advance", "clock_forward_only"),
        ({"advance": "P401D"}, "body.advance", "clock_move_too_far"),
        ({"advance": "P58W"}, "body.advance", "clock_move_too_far"),
        ({"advance": "P99999999999D"}, "body.advance", "clock_move_too_far"),
        ({"to": "2020-01-01T00:00:00+08:00"}, "body.to", "clock_forward_only"),
        ({"to": "2027-01-05T09:00:00"}, "body.to", "timezone_aware"),
        ({"to": "tomorrow"}, "body.to", "datetime_from_date_parsing"),
        ({"advance": "P1D", "to": "2099-01-01T00:00:00Z"}, "body.to", "advance_or_to"),
        ({}, "body.advance", "advance_or_to"),
        ({"advance": "P1D", "speed": 2}, "body.speed", "extra_forbidden"),
    ],
)
async def test_bad_moves_are_422_naming_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, body: dict[str, Any], field: str, code: str
) -> None:
    staff = await admin(factory)

    response = await client.post(
        "/v1/sandbox/clock", json=body, headers={**staff.headers, "Accept-Language": "en"}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]
    assert not error["message"].startswith(("field.", code))
    read = await client.get("/v1/sandbox/clock", headers=staff.headers)
    assert read.json()["ahead_by"] == "PT0S"


async def test_a_move_beyond_400_days_in_total_is_fine_in_steps(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    staff = await admin(factory)

    first = await move(client, staff.headers, advance="P400D")
    second = await move(client, staff.headers, advance="P1D")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["ahead_by"] == "P401D"


async def test_who_may_move_the_clock(client: httpx.AsyncClient, factory: MarketFactory) -> None:
    enterprise = await factory.organization()
    owner = await factory.person(enterprise, MemberRole.owner)
    reviewer = await factory.staff(PlatformRole.reviewer)
    app_key = await factory.api_key(enterprise, {"sandbox"})
    plain_key = await factory.api_key(enterprise, {"listings:read"})

    anonymous = await client.post("/v1/sandbox/clock", json={"advance": "PT1H"})
    by_owner = await move(client, owner.headers, advance="PT1H")
    by_reviewer = await move(client, reviewer.headers, advance="PT1H")
    by_plain_key = await move(client, {"Authorization": f"Bearer {plain_key}"}, advance="PT1H")
    by_app = await move(client, {"Authorization": f"Bearer {app_key}"}, advance="PT1H")

    assert anonymous.status_code == 401
    assert (by_owner.status_code, by_reviewer.status_code) == (403, 403)
    assert by_plain_key.status_code == 403
    assert by_plain_key.json()["code"] == "insufficient_scope"
    assert by_app.status_code == 200, by_app.text
    assert by_app.json()["ahead_by"] == "PT1H"


async def test_there_is_no_sandbox_clock_outside_sandbox_mode(
    settings: Settings, factory: MarketFactory
) -> None:
    staff = await admin(factory)
    production_like = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=production_like), base_url="http://t"
    ) as http:
        read = await http.get("/v1/sandbox/clock", headers=staff.headers)
        moved = await http.post("/v1/sandbox/clock", json={"advance": "P1D"}, headers=staff.headers)
    await production_like.state.engine.dispose()

    assert (read.status_code, moved.status_code) == (404, 404)
    assert "/v1/sandbox/clock" not in production_like.openapi()["paths"]
    with pytest.raises(ValueError, match="production"):
        Settings(sandbox=True, environment="production", database_url="postgresql://x/y")


async def test_a_retried_move_with_its_idempotency_key_moves_once(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    staff = await admin(factory)
    headers = {**staff.headers, "Idempotency-Key": "move-1"}

    first = await client.post("/v1/sandbox/clock", json={"advance": "P2D"}, headers=headers)
    retry = await client.post("/v1/sandbox/clock", json={"advance": "P2D"}, headers=headers)

    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()
    assert first.json()["ahead_by"] == "P2D"


async def test_other_processes_follow_the_clock(
    client: httpx.AsyncClient, factory: MarketFactory, database_url: str
) -> None:
    """Another API process or worker hears the move through LISTEN/NOTIFY."""
    staff = await admin(factory)
    elsewhere = SandboxClock()
    follower = ClockFollower(database_url, elsewhere)
    await follower.start()
    try:
        await move(client, staff.headers, advance="P3D")
        for _ in range(100):
            if elsewhere.ahead_by >= timedelta(days=3):
                break
            await asyncio.sleep(0.02)
    finally:
        await follower.stop()

    assert elsewhere.ahead_by == timedelta(days=3)
    # A process that starts later reads the stored distance.
    latecomer = SandboxClock()
    late = ClockFollower(database_url, latecomer)
    await late.start()
    await late.stop()
    assert latecomer.ahead_by == timedelta(days=3)


async def test_due_work_runs_in_time_order(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A fixed-price listing with two intents: its window closes when it ends (not when the
    jump does), the auction it becomes opens three days after that and closes a day later."""
    staff = await admin(factory)
    listing_id = await publish_listing(client, factory)
    for _ in range(2):
        buyer = await factory.organization()
        owner = await factory.person(buyer, MemberRole.owner)
        intent = await client.post(
            f"/v1/listings/{listing_id}/intents",
            json={"organization_id": str(buyer.id)},
            headers=owner.headers,
        )
        assert intent.status_code == 201, intent.text

    moved = await move(client, staff.headers, advance="P25D")

    assert moved.status_code == 200, moved.text
    async with sessionmaker() as session:
        listing = await session.get(Listing, listing_id)
        auction = await session.scalar(select(Auction).where(Auction.listing_id == listing_id))
    assert listing is not None
    assert auction is not None
    assert listing.outcome == ListingOutcome.to_auction
    assert listing.window_ends_at is not None
    assert listing.closed_at is not None
    assert timedelta(0) <= listing.closed_at - listing.window_ends_at < timedelta(seconds=5)
    three_days_on = listing.closed_at + timedelta(days=3)
    assert timedelta(0) <= auction.starts_at - three_days_on < timedelta(seconds=5)
    assert auction.state == AuctionState.failed  # nobody bid
    assert auction.closed_at is not None
    assert timedelta(0) <= auction.closed_at - auction.ends_at < timedelta(seconds=5)
    steps = [(ran["task"], instant(ran["at"])) for ran in moved.json()["ran"]]
    assert [at for _, at in steps] == sorted(at for _, at in steps)
    closing = [at for task, at in steps if task == "sweep_publication_windows"]
    advancing = [at for task, at in steps if task == "sweep_auctions"]
    second = timedelta(seconds=5)
    assert timedelta(0) <= closing[0] - listing.window_ends_at < second
    assert any(timedelta(0) <= at - auction.starts_at < second for at in advancing)  # opened
    assert any(timedelta(0) <= at - auction.ends_at < second for at in advancing)  # closed


async def test_two_concurrent_moves_wait_for_each_other_and_run_due_work_once(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    staff = await admin(factory)
    university = await factory.organization(OrganizationKind.university)
    listings = [await factory.listing(university, window_days=15) for _ in range(3)]

    first, second = await asyncio.gather(
        move(client, staff.headers, advance="P9D"), move(client, staff.headers, advance="P9D")
    )

    assert (first.status_code, second.status_code) == (200, 200), first.text + second.text
    assert sorted([first.json()["ahead_by"], second.json()["ahead_by"]]) == ["P18D", "P9D"]
    closed = [
        ran["count"]
        for answer in (first, second)
        for ran in answer.json()["ran"]
        if ran["task"] == "sweep_publication_windows"
    ]
    assert sum(closed) == 3
    async with sessionmaker() as session:
        transitions = await session.scalar(
            select(func.count())
            .select_from(ListingTransition)
            .where(
                ListingTransition.listing_id.in_([listing.id for listing in listings]),
                ListingTransition.to_state == "closed",
            )
        )
    assert transitions == 3


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P16D", timedelta(days=16)),
        ("PT2H", timedelta(hours=2)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(days=14)),
        ("PT1H30M", timedelta(minutes=90)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("P1DT0.000001S", timedelta(days=1, microseconds=1)),
        ("PT59M59.25S", timedelta(minutes=59, seconds=59, milliseconds=250)),
    ],
)
def test_durations_read_and_print_as_iso_8601(text: str, delta: timedelta) -> None:
    assert service.parse_duration(text) == delta
    assert service.parse_duration(service.iso_duration(delta)) == delta
    if "W" not in text:
        assert service.iso_duration(delta) == text


async def test_a_clock_move_is_the_movers_and_what_came_due_is_the_clocks(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    staff = await admin(factory)
    listing_id = await publish_listing(client, factory)

    moved = await move(client, staff.headers, advance="P16D")
    trail = (await client.get("/v1/audit-events", headers=staff.headers)).json()["items"]
    by_action = {event["action"]: event for event in trail}

    assert moved.status_code == 200, moved.text
    assert by_action["sandbox.clock_moved"]["actor_user_id"] == str(staff.user_id)
    # The window closed on the way: the clock did it, not the admin who moved the clock.
    assert not any(
        event["object_id"] == listing_id and event["action"] != "listing.published"
        for event in trail
    )

"""Live auction events over real HTTP (uvicorn): two API processes' worth of apps share one
database; a bid through one reaches a stream on the other through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions.tasks import advance
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.main import create_app
from tests.auctions.test_auctions_api import PROVIDER, cny
from tests.factories import MarketFactory, Person


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_events(
    http: httpx.AsyncClient, url: str, person: Person, into: list[dict[str, Any]], **headers: str
) -> None:
    """Collect the stream's events until it ends (or the task is cancelled)."""
    async with http.stream("GET", url, headers={**person.headers, **headers}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "event" in event:
                    into.append(event)
                event = {}
            elif line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                event[name] = json.loads(value) if name == "data" else value.strip()


async def until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the condition is another server's state
            await asyncio.sleep(0.02)


async def test_a_bid_in_one_process_reaches_the_streams_of_another_and_missed_events_replay(
    settings: Settings,
    clock: FrozenClock,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)
    _, a = await factory.bidder(auction)
    _, b = await factory.bidder(auction)
    watcher = await factory.person(await factory.organization())
    first_app = create_app(settings, clock=clock)
    second_app = create_app(settings, clock=clock)

    async with (
        serving(first_app) as first,
        serving(second_app) as second,
        httpx.AsyncClient(timeout=10) as http,
    ):
        events_url = f"{second}/v1/auctions/{auction.id}/events"
        seen: list[dict[str, Any]] = []
        stream = asyncio.create_task(read_events(http, events_url, watcher, seen))
        await until(lambda: bool(second_app.state.live._waiting))

        placed = await http.post(
            f"{first}/v1/auctions/{auction.id}/bids",
            json={"amount": cny("100000")},
            headers=a.headers,
        )
        assert placed.status_code == 201, placed.text
        await until(lambda: len(seen) >= 3)
        stream.cancel()

        assert [(e["id"], e["event"]) for e in seen] == [
            ("1", "opened"),
            ("2", "bid"),
            ("3", "price"),
        ]
        assert seen[1]["data"]["amount"] == cny("100000.00")
        assert seen[1]["data"]["paddle"] == 1
        assert seen[2]["data"]["minimum_bid"] == cny("105000.00")

        # While the watcher is away: a late bid (extends the end), then the close.
        clock.set(auction.ends_at - timedelta(minutes=1))
        await http.post(
            f"{first}/v1/auctions/{auction.id}/bids",
            json={"amount": cny("105000")},
            headers=b.headers,
        )
        clock.set(auction.ends_at + timedelta(minutes=10))
        await advance(sessionmaker, PROVIDER, auction.id, clock.now())

        missed: list[dict[str, Any]] = []
        await asyncio.wait_for(
            read_events(http, events_url, watcher, missed, **{"Last-Event-ID": "3"}), 10
        )

    assert [(e["id"], e["event"]) for e in missed] == [
        ("4", "bid"),
        ("5", "price"),
        ("6", "extended"),
        ("7", "closed"),
        ("8", "settled"),
    ]
    assert missed[3]["data"] == {"state": "closed", "sold": True, "price": cny("105000.00")}


async def test_events_of_an_unknown_auction_are_a_404_and_a_bad_last_event_id_a_422(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    auction = await factory.auction()
    person = await factory.person(await factory.organization())

    unknown = await client.get(
        "/v1/auctions/00000000-0000-0000-0000-000000000000/events", headers=person.headers
    )
    bad = await client.get(
        f"/v1/auctions/{auction.id}/events", headers={**person.headers, "Last-Event-ID": "x"}
    )

    assert unknown.status_code == 404
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "header.last-event-id"

"""Bidding on one hot auction: accepted bids per second and latency with 50 concurrent clients
over real HTTP (uvicorn in its own process), against the same transaction done directly with
asyncpg as the floor.

Both sides bid as people do: each client bids the minimum it last heard of (from its last
acceptance or refusal, shared by the clients of one side), and a client refused as
`bid_too_low` learns the new minimum from the refusal. On a hot auction most bids lose the race
to the lock, so besides accepted bids per second we report bid transactions per second (each
takes the auction's lock, accepted or refused). Both sides run the same
statements: the bidder's deposit, the auction row `FOR UPDATE`, the live part of the book
(last bid, the leader's best own bid, proxies), the bid, the auction's counters, two live
events, an outbox event, `NOTIFY`, commit. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, scratch_database

from app.accounts.demo import demo_credit_code
from app.accounts.models import Membership, Organization, OrganizationKind, User, VerificationStatus
from app.auctions import service as auctions
from app.auctions.models import Deposit, DepositState
from app.core import security
from app.core.auth import ALL_SCOPES, MemberRole
from app.core.clock import SystemClock
from app.core.db import create_engine, create_sessionmaker, libpq_url
from app.core.money import Money
from app.listings.models import Listing, ListingMode, ListingOutcome, ListingState, TransferType
from app.results.models import LegalStatus, Result, ResultKind

CLIENTS = 50
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
PROCESSES = int(os.environ.get("BENCH_API_PROCESSES", "1"))
"""API processes (`techx serve`), the clients spread over them as a load balancer would."""
SECRET = "bench-" + "k" * 40
STEP_FEN = 100  # one yuan a step, so the auction never runs out of room
START_FEN = 100_000


async def _setup(url: str) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """An open auction and CLIENTS bidders with held deposits: (auction id, [(org, token)])."""
    engine = create_engine(url, pool_size=2)
    maker = create_sessionmaker(engine, SystemClock())
    now = datetime.now(UTC)
    bidders: list[tuple[uuid.UUID, str]] = []
    async with maker() as session, session.begin():
        seller = _organization("基准卖方大学", OrganizationKind.university)
        session.add(seller)
        await session.flush()
        result = Result(
            organization_id=seller.id,
            title="基准测试成果",
            abstract="用于竞价基准测试的成果。",
            keywords=[],
            kind=ResultKind.technical_secret,
            ipc_codes=[],
            legal_status=LegalStatus.not_applicable,
            field_code="new_materials",
            trl=5,
            publicly_funded=False,
            division_code="150102",
        )
        session.add(result)
        await session.flush()
        listing = Listing(
            result_id=result.id,
            organization_id=seller.id,
            mode=ListingMode.auction,
            transfer_type=TransferType.assignment,
            price_fen=START_FEN,
            window_days=15,
            state=ListingState.closed,
            outcome=ListingOutcome.to_auction,
            published_at=now - timedelta(days=20),
            window_ends_at=now - timedelta(days=5),
            closed_at=now - timedelta(days=5),
        )
        session.add(listing)
        await session.flush()
        auction = await auctions.create_from_listing(
            session,
            listing_id=listing.id,
            seller_organization_id=seller.id,
            start_price=Money(START_FEN),
            intent_holders=None,
            now=now - timedelta(days=1),
        )
        auction.starts_at = now - timedelta(minutes=1)
        auction.ends_at = auction.scheduled_end_at = now + timedelta(days=1)
        auction.increments = {"steps": [], "above": STEP_FEN}
        auction.snipe_window_seconds = 0
        for number in range(CLIENTS):
            organization = _organization(f"基准竞买企业{number}", OrganizationKind.enterprise)
            user = User(email=f"bidder{number}@bench.cn", password_hash="!", display_name="bidder")  # noqa: S106 - never signs in
            session.add_all([organization, user])
            await session.flush()
            session.add(
                Membership(organization_id=organization.id, user_id=user.id, role=MemberRole.owner)
            )
            deposit = Deposit(
                auction_id=auction.id,
                organization_id=organization.id,
                amount_fen=auction.deposit_fen,
                state=DepositState.pending,
                provider="offline",
                provider_reference=f"BENCH-{number}",
                instructions={},
                created_at=now,
            )
            session.add(deposit)
            await session.flush()
            await auctions.mark_deposit_held(session, deposit, now=now, confirmed_by_id=None)
            token = security.issue_access_token(
                user_id=user.id,
                scopes=ALL_SCOPES,
                now=now,
                ttl=timedelta(hours=2),
                key=SECRET,
            )
            bidders.append((organization.id, token))
        auction_id = auction.id
    await engine.dispose()
    return auction_id, bidders


def _organization(name: str, kind: OrganizationKind) -> Organization:
    return Organization(
        kind=kind,
        name=name,
        credit_code=demo_credit_code(name, "150102", kind),
        division_code="150102",
        verification_status=VerificationStatus.verified,
        verified_at=datetime.now(UTC),
    )


def _latency(samples: list[float], accepted: int, elapsed: float) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "accepted_per_second": round(accepted / elapsed, 1),
        "transactions_per_second": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


# --- over HTTP --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _over_http(
    url: str, auction_id: uuid.UUID, bidders: list[tuple[uuid.UUID, str]], start_fen: int
) -> dict[str, float]:
    ports = [_free_port() for _ in range(PROCESSES)]
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "true",
        "ENVIRONMENT": "production",
    }
    servers = [
        subprocess.Popen(  # noqa: ASYNC220, S603 - our own server, started before measuring
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=environment
        )
        for port in ports
    ]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    https = [
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits)
        for port in ports
    ]
    try:
        for http in https:
            for _ in range(300):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        samples: list[float] = []
        accepted = 0
        minimum = {"fen": start_fen}
        deadline = time.perf_counter() + SECONDS

        async def client(http: httpx.AsyncClient, token: str) -> None:
            nonlocal accepted
            headers = {"Authorization": f"Bearer {token}"}
            while time.perf_counter() < deadline:
                amount = str(Money(minimum["fen"]).amount)
                started = time.perf_counter()
                response = await http.post(
                    f"/v1/auctions/{auction_id}/bids",
                    json={"amount": {"amount": amount, "currency": "CNY"}},
                    headers=headers,
                )
                samples.append(time.perf_counter() - started)
                body = response.json()
                if response.status_code == 201:
                    accepted += 1
                    heard = body["auction"]["minimum_bid"]["amount"]
                elif body.get("code") == "bid_too_low":
                    heard = body["minimum"]["amount"]
                elif body.get("code") == "already_leading":
                    continue
                else:
                    raise RuntimeError(response.text)
                minimum["fen"] = max(minimum["fen"], Money.yuan(heard).fen)

        started = time.perf_counter()
        await asyncio.gather(
            *(client(https[number % PROCESSES], token) for number, (_, token) in enumerate(bidders))
        )
        elapsed = time.perf_counter() - started
    finally:
        for http in https:
            await http.aclose()
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    return _latency(samples, accepted, elapsed)


# --- directly with asyncpg ----------------------------------------------------------------------

DEPOSIT = """SELECT paddle FROM auction_deposits
    WHERE auction_id = $1 AND organization_id = $2 AND state = 'held'"""
LOCK = "SELECT start_price_fen, sequence, event_sequence, ends_at FROM auctions WHERE id = $1 FOR UPDATE"
LAST = """SELECT organization_id, amount_fen, sequence FROM auction_bids WHERE auction_id = $1
    ORDER BY sequence DESC LIMIT 1"""
BEST_OWN = """SELECT amount_fen FROM auction_bids
    WHERE auction_id = $1 AND organization_id = $2 AND NOT by_proxy ORDER BY amount_fen DESC LIMIT 1"""
PROXIES = "SELECT organization_id, maximum_fen FROM auction_proxy_bids WHERE auction_id = $1 AND maximum_fen >= $2"
INSERT_BID = """INSERT INTO auction_bids
    (id, auction_id, organization_id, amount_fen, sequence, by_proxy, placed_at)
    VALUES ($1, $2, $3, $4, $5, false, now())"""
UPDATE = "UPDATE auctions SET sequence = $2, event_sequence = $3 WHERE id = $1"
EVENT = "INSERT INTO auction_events (auction_id, sequence, kind, data, at) VALUES ($1, $2, $3, $4, now())"
OUTBOX = (
    "INSERT INTO outbox (id, topic, payload, attempts) VALUES ($1, 'auction.bid_placed', $2, 0)"
)


async def _direct(
    url: str, auction_id: uuid.UUID, bidders: list[tuple[uuid.UUID, str]]
) -> tuple[dict[str, float], int]:
    pool = await asyncpg.create_pool(libpq_url(url), min_size=CLIENTS, max_size=CLIENTS)
    samples: list[float] = []
    accepted = 0
    minimum = {"fen": START_FEN}
    deadline = time.perf_counter() + SECONDS

    async def bid(
        connection: asyncpg.Connection, organization_id: uuid.UUID, amount: int
    ) -> tuple[bool, int]:
        """One bid transaction: (accepted, the minimum after it)."""
        async with connection.transaction():
            paddle = await connection.fetchval(DEPOSIT, auction_id, organization_id)
            auction = await connection.fetchrow(LOCK, auction_id)
            last = await connection.fetchrow(LAST, auction_id)
            floor = auction["start_price_fen"] if last is None else last["amount_fen"] + STEP_FEN
            if last is not None:
                await connection.fetchval(BEST_OWN, auction_id, last["organization_id"])
                if last["organization_id"] == organization_id:
                    return False, floor
            await connection.fetch(PROXIES, auction_id, last["amount_fen"] if last else 0)
            if amount < floor:
                return False, floor
            sequence, events = auction["sequence"] + 1, auction["event_sequence"] + 2
            await connection.execute(
                INSERT_BID, uuid.uuid4(), auction_id, organization_id, amount, sequence
            )
            await connection.execute(UPDATE, auction_id, sequence, events)
            await connection.execute(
                EVENT,
                auction_id,
                events - 1,
                "bid",
                json.dumps({"amount": amount, "paddle": paddle}),
            )
            await connection.execute(
                EVENT, auction_id, events, "price", json.dumps({"price": amount})
            )
            await connection.execute(
                OUTBOX, uuid.uuid4(), json.dumps({"auction_id": str(auction_id)})
            )
            await connection.execute(
                "SELECT pg_notify('auction_events', $1)", f"{auction_id}:{events}"
            )
            return True, amount + STEP_FEN

    async def client(organization_id: uuid.UUID) -> None:
        nonlocal accepted
        async with pool.acquire() as connection:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ok, heard = await bid(connection, organization_id, minimum["fen"])
                samples.append(time.perf_counter() - started)
                accepted += ok
                minimum["fen"] = max(minimum["fen"], heard)

    started = time.perf_counter()
    await asyncio.gather(*(client(organization_id) for organization_id, _ in bidders))
    elapsed = time.perf_counter() - started
    await pool.close()
    return _latency(samples, accepted, elapsed), minimum["fen"]


async def _measure(url: str) -> dict[str, object]:
    auction_id, bidders = await _setup(url)
    direct, reached = await _direct(url, auction_id, bidders)
    # The API side continues the same auction from where the direct side left it.
    api = await _over_http(url, auction_id, bidders, reached)
    return {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "api": api,
        "direct_asyncpg": direct,
        "api_to_direct_ratio": round(api["accepted_per_second"] / direct["accepted_per_second"], 2),
        "api_to_direct_ratio_transactions": round(
            api["transactions_per_second"] / direct["transactions_per_second"], 2
        ),
    }


def main() -> None:
    with scratch_database() as url:
        report("auction_bids", asyncio.run(_measure(url)))


if __name__ == "__main__":
    main()

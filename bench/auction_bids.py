"""Bidding on one hot auction, 50 bidders: bid transactions per second, accepted bids and
latency over HTTP (wrk, C, against `techx serve`), beside the database floor — the same
statements (`bench/bid.pgbench`: the rate-limit count of both classes, the read with the Idempotency-Key's
row, the storing statement that claims the key) run by pgbench from 50 clients.

Over HTTP each request bids the minimum last heard (from the last acceptance or refusal, the
Lua script `bench/wrk/bids.lua`), as people do; on a hot auction many bids lose the race and
are refused `bid_too_low` (or `already_leading`), so besides accepted bids we report bid
transactions per second, accepted or refused (a refusal takes no lock). pgbench bids the
minimum it reads, the best case, in the API's statements. After the run the stored book is
checked: every accepted bid kept, sequences without gaps, each bid above the last. Prints one
JSON object: one API process, and `techx serve --workers 2` (one per core, the default), each
measured after a warm-up of the same load (`WARMUP_SECONDS`: a fresh process prepares its
statements on each connection and builds its validators on its first requests).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, scratch_database
from loadgen import BENCH, CONNECTIONS, SECONDS, api, pgbench, run_wrk, server_environment

from app.accounts.demo import demo_credit_code
from app.accounts.models import Membership, Organization, OrganizationKind, User, VerificationStatus
from app.auctions import deposits as auctions_deposits
from app.auctions import service as auctions
from app.auctions.models import Deposit, DepositState
from app.core import security
from app.core.auth import ALL_SCOPES, MemberRole
from app.core.clock import SystemClock
from app.core.db import create_engine, create_sessionmaker, libpq_url
from app.core.money import Money
from app.listings.models import Listing, ListingMode, ListingOutcome, ListingState, TransferType
from app.results.models import LegalStatus, Result, ResultKind

CLIENTS = CONNECTIONS
WORKER_COUNTS = (1, 2)
WARMUP_SECONDS = 2.0
SECRET = "bench-" + "k" * 40
STEP_FEN = 100  # one yuan a step, so the auction never runs out of room
START_FEN = 100_000


async def _setup(url: str) -> tuple[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID, str]]]:
    """An open auction and CLIENTS bidders with held deposits: (auction id, [(organization,
    person, token)])."""
    engine = create_engine(url, pool_size=2)
    maker = create_sessionmaker(engine, SystemClock())
    now = datetime.now(UTC)
    bidders: list[tuple[uuid.UUID, uuid.UUID, str]] = []
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
            await auctions_deposits.mark_deposit_held(
                session, deposit, now=now, confirmed_by_id=None
            )
            token = security.issue_access_token(
                user_id=user.id,
                family_id=uuid.uuid4(),
                scopes=ALL_SCOPES,
                now=now,
                ttl=timedelta(hours=2),
                key=SECRET,
            )
            bidders.append((organization.id, user.id, token))
        auction_id = auction.id
    await engine.dispose()
    # pgbench's clients are numbered: client n bids as bidder n.
    connection = await asyncpg.connect(libpq_url(url))
    await connection.execute(
        "CREATE TABLE bench_bidders (n int PRIMARY KEY, organization_id uuid, user_id uuid)"
    )
    await connection.executemany(
        "INSERT INTO bench_bidders VALUES ($1, $2, $3)",
        [
            (number, organization, person)
            for number, (organization, person, _) in enumerate(bidders)
        ],
    )
    await connection.close()
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


def _floor(url: str, auction_id: uuid.UUID) -> dict[str, object]:
    return pgbench(
        libpq_url(url),
        (BENCH / "bid.pgbench").read_text(),
        variables={"auction": str(auction_id), "step": str(STEP_FEN)},
        clients=CLIENTS,
    )


def _over_http(
    base_url: str,
    auction_id: uuid.UUID,
    tokens: list[str],
    start_fen: int,
    seconds: float = SECONDS,
) -> dict[str, object]:
    raw = run_wrk(
        base_url,
        "bids.lua",
        {
            **os.environ,
            "BENCH_PATH": f"/v1/auctions/{auction_id}/bids",
            "BENCH_TOKENS": "\n".join(tokens),
            "BENCH_START": str(Money(start_fen).amount),
        },
        seconds=seconds,
    )
    seconds = raw["duration_us"] / 1e6
    accepted = int(raw["statuses"].get("201", 0))
    return {
        "transactions_per_second": round(raw["requests"] / seconds, 1),
        "accepted_per_second": round(accepted / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "requests": raw["requests"],
        "statuses": raw["statuses"],
        "refusals": raw["codes"],
        "socket_errors": raw["socket_errors"],
        "timeouts": raw["timeouts"],
    }


async def _book(url: str, auction_id: uuid.UUID) -> tuple[int, int]:
    """(bids stored, the highest amount), after checking the book: sequences 1…n without a
    gap, each bid above the one before."""
    connection = await asyncpg.connect(libpq_url(url))
    rows = await connection.fetch(
        "SELECT sequence, amount_fen FROM auction_bids WHERE auction_id = $1 ORDER BY sequence",
        auction_id,
    )
    await connection.close()
    assert [row["sequence"] for row in rows] == list(range(1, len(rows) + 1)), "a gap"
    assert all(a["amount_fen"] < b["amount_fen"] for a, b in itertools.pairwise(rows)), "not rising"
    return len(rows), rows[-1]["amount_fen"] if rows else START_FEN


def _measure(url: str) -> dict[str, object]:
    auction_id, bidders = asyncio.run(_setup(url))
    floor = _floor(url, auction_id)
    stored, reached = asyncio.run(_book(url, auction_id))
    # pgbench's transactions include the reads of a bidder who leads or lost the race.
    floor["accepted_per_second"] = round(stored / SECONDS, 1)
    tokens = [token for _, _, token in bidders]
    environment = server_environment(url)
    figures: dict[str, object] = {"bidders": CLIENTS, "seconds": SECONDS, "pgbench_floor": floor}
    for workers in WORKER_COUNTS:
        with api(environment, "--workers", str(workers)) as served:
            _over_http(served, auction_id, tokens, reached + STEP_FEN, WARMUP_SECONDS)
            before, reached = asyncio.run(_book(url, auction_id))
            http = _over_http(served, auction_id, tokens, reached + STEP_FEN)
        after, reached = asyncio.run(_book(url, auction_id))
        accepted = int(http["statuses"].get("201", 0))  # type: ignore[attr-defined]
        name = "api" if workers == 1 else f"api_{workers}_workers"
        figures[name] = {
            **http,
            "to_floor_transactions": round(
                float(http["transactions_per_second"])  # type: ignore[arg-type]
                / float(floor["transactions_per_second"]),  # type: ignore[arg-type]
                2,
            ),
            # A bid answered after wrk stopped listening is stored but not counted.
            "every_accepted_bid_kept": after - before >= accepted,
            "bids_stored": after - before,
        }
    return figures


def main() -> None:
    with scratch_database() as url:
        report("auction_bids", _measure(url))


if __name__ == "__main__":
    main()

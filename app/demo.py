"""Demo data for `make run` and `techx demo-data`: the accounts, a catalogue of listings in
their publication windows, then a year of market history through the API
(`app.demo_history`), all dated from the clock so that the demo is fresh on any day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.demo import Credential, seed_accounts
from app.accounts.models import Organization, User
from app.core.clock import Clock, SystemClock, beijing_time
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.demo_history import DemoMarket, walk_the_year
from app.listings.demo import seed_market
from search import service as search


@dataclass(frozen=True)
class Seeded:
    credentials: list[Credential]
    market: DemoMarket


async def seed(settings: Settings, clock: Clock | None = None) -> Seeded:
    """Add the demo data (fails with a conflict if it is there already)."""
    seeded = await _seed(settings, clock or SystemClock(), only_if_empty=False)
    assert seeded is not None
    return seeded


async def seed_if_empty(settings: Settings, clock: Clock | None = None) -> Seeded | None:
    """Seed on first start only: when there is no organization yet."""
    return await _seed(settings, clock or SystemClock(), only_if_empty=True)


async def _seed(settings: Settings, clock: Clock, *, only_if_empty: bool) -> Seeded | None:
    assert settings.database_url
    now = clock.now().replace(second=0, microsecond=0)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        maker = create_sessionmaker(engine, clock)
        async with maker() as session, session.begin():
            if only_if_empty:
                # Serialize concurrent first starts.
                await session.execute(select(func.pg_advisory_xact_lock(0x7465636878)))
                if await session.scalar(select(func.count()).select_from(Organization)):
                    return None
            accounts = await seed_accounts(session, now - timedelta(days=400))
            await seed_market(session, accounts.organizations, accounts.reviewer_id, now)
            people = await _people(session)
        market = await walk_the_year(settings, accounts.organizations, people, now)
        await search.reindex(maker, search.backend_for(settings, maker))
        return Seeded(accounts.credentials, market)
    finally:
        await engine.dispose()


async def _people(session: AsyncSession) -> dict[str, uuid.UUID]:
    rows = await session.execute(select(User.email, User.id))
    return dict(rows.all())


def print_credentials(seeded: Seeded) -> None:
    """The logins, then where to look and as whom."""
    print("\nDemo logins (POST /v1/auth/token with username=email, password):")
    width = max(len(c.email) for c in seeded.credentials)
    for credential in seeded.credentials:
        print(f"  {credential.email:<{width}}  {credential.password}  {credential.what}")
    market = seeded.market
    ends = market.live_auction_ends_at
    ending = f", ends {beijing_time(ends):%H:%M} Beijing" if ends else ""
    places = [
        (
            f"GET /v1/auctions/{market.live_auction_id}",
            f"the live auction{ending}: bid as rd@wind.techx.demo or cto@magnet.techx.demo",
        ),
        (
            f"GET /v1/auctions/{market.live_auction_id}/events",
            "its bids as they happen (Server-Sent Events)",
        ),
        (
            f"GET /v1/auctions/{market.scheduled_auction_id}",
            "a scheduled auction: lodge a deposit before it opens",
        ),
        (
            f"GET /v1/deals/{market.awaiting_signature_deal_id}/contract",
            "a contract awaiting 稀宝永磁's signature (cto@magnet.techx.demo)",
        ),
        (
            "GET /v1/deals",
            f"{len(market.registered_deal_ids)} contracts registered this year, paid "
            "(tto@imu.techx.demo)",
        ),
        ("GET /v1/rewards", "the broker's rewards, some paid (broker1@agency.techx.demo)"),
        (
            "GET /v1/tax/filings",
            "内蒙古大学's filings, the last closed month's and year's submitted "
            "(tto@imu.techx.demo)",
        ),
        (
            f"GET /v1/demands/{market.demand_id}/matches",
            "listings matching 煤化新材料's need (rd@coal.techx.demo)",
        ),
        (
            f"GET /v1/challenges/{market.open_challenge_id}",
            "a challenge (揭榜挂帅) taking proposals: propose as tto@imust.techx.demo",
        ),
        (
            f"GET /v1/challenges/{market.awarded_challenge_id}/ranking",
            "an awarded challenge: experts' scores, award, deal (rd@wind.techx.demo)",
        ),
        (
            f"GET /v1/webhook-endpoints/{market.webhook_endpoint_id}/deliveries",
            "稀宝永磁's webhook deliveries (cto@magnet.techx.demo)",
        ),
        (
            "POST /v1/sandbox/clock",
            '{"advance": "PT3H"}: the auction closes and settles (admin@techx.demo)',
        ),
    ]
    print("\nWhere to look (with a token of the login named):")
    for place, what in places:
        print(f"  {place}\n      {what}")
    print()

"""A thousand mixed requests at once — searches, bids on one hot auction, intents on a few
listings: no 5xx, and afterwards the invariants hold (one winner, bids strictly rising, one
intent per enterprise and listing, the ledger balanced), and `/metrics` counted every bid by its
outcome as the client saw it."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.auctions.models import Auction, Bid
from app.auctions.tasks import advance
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.money import Money
from app.deals.models import Deal
from app.listings.models import Intent
from app.main import create_app
from app.payments import service as payments
from tests.auctions.test_auctions_api import PROVIDER
from tests.factories import MarketFactory
from tests.scrape import total

REQUESTS = 1000
BIDDERS = 12
BUYERS = 15
LISTINGS = 4


async def test_a_thousand_mixed_requests_keep_every_invariant(
    settings: Settings,
    clock: FrozenClock,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(await factory.organization(OrganizationKind.university))
    bidders = [(await factory.bidder(auction))[1] for _ in range(BIDDERS)]
    university = await factory.organization(OrganizationKind.university)
    listings = [await factory.listing(university) for _ in range(LISTINGS)]
    buyers = [await factory.person(await factory.organization()) for _ in range(BUYERS)]
    app = create_app(
        settings.model_copy(
            update={"rate_limits": {"search": 10**6, "writes": 10**6, "bids": 10**6}}
        ),
        clock=clock,
    )
    rng = random.Random(2026)
    minimum = {"fen": auction.start_price_fen}
    bids: Counter[str] = Counter()

    async def one(http: httpx.AsyncClient, number: int) -> int:
        kind = rng.random()
        if kind < 0.4:
            answer = await http.get("/v1/search/listings", params={"q": "钕铁硼"})
        elif kind < 0.8:
            bidder = bidders[number % BIDDERS]
            amount = Money(minimum["fen"]).amount_text
            answer = await http.post(
                f"/v1/auctions/{auction.id}/bids",
                json={"amount": {"amount": amount, "currency": "CNY"}},
                headers=bidder.headers,
            )
            bids["accepted" if answer.status_code == 201 else "refused"] += 1
            if answer.status_code == 201:
                heard = answer.json()["auction"]["minimum_bid"]["amount"]
                minimum["fen"] = max(minimum["fen"], Money.yuan(heard).fen)
        else:
            listing = listings[number % LISTINGS]
            answer = await http.post(
                f"/v1/listings/{listing.id}/intents",
                json={},
                headers=buyers[number % BUYERS].headers,
            )
        return answer.status_code

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=120
    ) as http:
        before = (await http.get("/metrics")).text
        statuses = Counter(await asyncio.gather(*(one(http, n) for n in range(REQUESTS))))
        after = (await http.get("/metrics")).text
    await app.state.engine.dispose()
    clock.advance(timedelta(hours=3))
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())

    async with sessionmaker() as session:
        amounts = list(
            (
                await session.scalars(
                    select(Bid.amount_fen)
                    .where(Bid.auction_id == auction.id)
                    .order_by(Bid.sequence)
                )
            ).all()
        )
        settled = await session.get(Auction, auction.id)
        deals = await session.scalar(
            select(func.count()).select_from(Deal).where(Deal.listing_id == auction.listing_id)
        )
        intents = (
            await session.execute(
                select(Intent.listing_id, Intent.organization_id, func.count())
                .group_by(Intent.listing_id, Intent.organization_id)
                .having(func.count() > 1)
            )
        ).all()
        imbalances = await payments.reconcile(session)

    assert sum(statuses.values()) == REQUESTS
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses[201] > 0  # bids and intents went through, not only refusals
    assert amounts == sorted(set(amounts))  # every accepted bid beat the one before
    assert settled is not None
    assert settled.state.value == "settled"
    assert deals == 1  # one winner
    assert intents == []
    assert imbalances == []
    accepted = 'techx_bids_total{outcome="accepted"}'
    assert total(after, accepted) - total(before, accepted) == bids["accepted"] == len(amounts)
    assert total(after, "techx_bids_total") - total(before, "techx_bids_total") == sum(
        bids.values()
    )

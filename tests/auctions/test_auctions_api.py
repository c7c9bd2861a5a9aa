"""Auctions through the API: terms, deposits, bids, proxies, anti-sniping, closing."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.auctions import bidding, queries
from app.auctions.models import Auction, AuctionEvent, Bid, Deposit, DepositState
from app.auctions.tasks import advance
from app.core.auth import MemberRole, PlatformRole, Principal
from app.core.clock import FrozenClock
from app.core.money import Money
from app.core.outbox import OutboxEvent
from app.deals.models import Deal, DealSource
from app.listings.models import ListingMode
from app.payments.provider import BankAccount, OfflineProvider
from tests.conftest import later
from tests.factories import MarketFactory, Person
from tests.market import relay_events
from tests.scrape import samples

PROVIDER = OfflineProvider(BankAccount("平台", "银行", "0000"))


def cny(amount: str, currency: str = "CNY") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


async def bid(
    client: httpx.AsyncClient, auction: Any, person: Person, amount: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/auctions/{auction.id}/bids",
        json={"amount": cny(amount), **extra},
        headers=person.headers,
    )


async def proxy(
    client: httpx.AsyncClient, auction: Any, person: Person, maximum: str
) -> httpx.Response:
    return await client.post(
        f"/v1/auctions/{auction.id}/proxy-bids",
        json={"maximum": cny(maximum)},
        headers=person.headers,
    )


async def stored_bids(sessionmaker: async_sessionmaker[AsyncSession], auction: Any) -> list[Bid]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Bid).where(Bid.auction_id == auction.id).order_by(Bid.sequence)
        )
        return list(rows.all())


# --- creation and terms -----------------------------------------------------------------


async def test_an_auction_listing_turns_into_an_auction_on_default_terms(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    listing = await factory.listing(university, mode=ListingMode.auction, price_fen=20_000_000)
    from app.listings import service as listings

    clock.set(listing.window_ends_at)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        await listings.close_publication_window(session, listing.id, now=clock.now())

    found = await client.get(f"/v1/auctions?listing_id={listing.id}", headers=owner.headers)
    auction = found.json()["items"][0]

    assert auction["state"] == "scheduled"
    assert auction["start_price"] == cny("200000.00")
    assert auction["deposit"] == cny("20000.00")  # 10 % of the start price
    assert auction["minimum_bid"] == cny("200000.00")
    assert auction["eligibility"] == "verified"
    assert auction["increments"] == [
        {"below": cny("100000.00"), "increment": cny("1000.00")},
        {"below": cny("1000000.00"), "increment": cny("5000.00")},
        {"below": None, "increment": cny("10000.00")},
    ]
    assert auction["anti_sniping"] == {
        "window_seconds": 300,
        "extension_seconds": 300,
        "max_extensions": 12,
    }


async def test_the_seller_sets_terms_and_only_the_seller_and_staff_see_the_reserve(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(university, opens_in=timedelta(days=2))
    bidder = await factory.person(await factory.organization())

    changed = await client.patch(
        f"/v1/auctions/{auction.id}",
        json={
            "reserve": cny("150000"),
            "increments": [
                {"below": cny("500000"), "increment": cny("2000")},
                {"increment": cny("20000")},
            ],
            "anti_sniping": {"window_seconds": 120, "extension_seconds": 180, "max_extensions": 3},
        },
        headers=owner.headers,
    )
    seen_by_bidder = await client.get(f"/v1/auctions/{auction.id}", headers=bidder.headers)

    assert changed.status_code == 200, changed.text
    assert changed.json()["reserve"] == cny("150000.00")
    assert changed.json()["anti_sniping"]["max_extensions"] == 3
    assert seen_by_bidder.json()["reserve"] is None
    assert seen_by_bidder.json()["reserve_met"] is False

    cleared = await client.patch(
        f"/v1/auctions/{auction.id}", json={"reserve": None}, headers=owner.headers
    )
    assert cleared.json()["reserve"] is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"reserve": cny("50000")}, "body.reserve", "reserve_below_start_price"),
        ({"ends_at": "2026-11-01T00:00:00Z"}, "body.ends_at", "auction_end_before_start"),
        ({"starts_at": "2026-11-01T00:00:00Z"}, "body.starts_at", "auction_start_past"),
        ({"starts_at": "2026-12-01T00:00:00"}, "body.starts_at", "timezone_aware"),
        (
            {
                "increments": [
                    {"increment": cny("1000")},
                    {"below": cny("5"), "increment": cny("1")},
                ]
            },
            "body.increments",
            "increments_order",
        ),
        ({"reserve": cny("0")}, "body.reserve", "money_not_positive"),
        ({"deposit": cny("-1")}, "body.deposit", "money_negative"),
    ],
)
async def test_bad_terms_name_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, body: dict[str, Any], field: str, code: str
) -> None:
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(university, opens_in=timedelta(days=2))

    response = await client.patch(f"/v1/auctions/{auction.id}", json=body, headers=owner.headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["errors"][0]["code"] == code


async def test_terms_are_fixed_once_the_auction_started(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(university)

    response = await client.patch(
        f"/v1/auctions/{auction.id}", json={"reserve": cny("200000")}, headers=owner.headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


# --- deposits --------------------------------------------------------------------------


async def test_a_deposit_is_requested_confirmed_by_finance_and_numbers_the_bidder(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    auction = await factory.auction(opens_in=timedelta(days=1))
    enterprise = await factory.organization()
    buyer = await factory.person(enterprise)
    finance = await factory.staff(PlatformRole.finance)
    reviewer = await factory.staff(PlatformRole.reviewer)

    requested = await client.post(
        f"/v1/auctions/{auction.id}/deposits", json={}, headers=buyer.headers
    )
    deposit = requested.json()
    too_early = await bid(client, auction, buyer, "100000")
    not_finance = await client.post(
        f"/v1/auctions/{auction.id}/deposits/{deposit['id']}/confirm", headers=reviewer.headers
    )
    confirmed = await client.post(
        f"/v1/auctions/{auction.id}/deposits/{deposit['id']}/confirm", headers=finance.headers
    )
    again = await client.post(f"/v1/auctions/{auction.id}/deposits", json={}, headers=buyer.headers)
    seen = await client.get(f"/v1/auctions/{auction.id}", headers=buyer.headers)

    assert requested.status_code == 201, requested.text
    assert deposit["state"] == "pending"
    assert deposit["amount"] == cny("10000.00")
    assert deposit["instructions"]["method"] == "bank_transfer"
    assert deposit["instructions"]["remark"] == deposit["reference"]
    assert too_early.json()["code"] == "deposit_required"
    assert not_finance.status_code == 403
    assert confirmed.json()["state"] == "held"
    assert confirmed.json()["paddle"] == 1
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.organization_id"
    assert seen.json()["your_deposits"][0]["paddle"] == 1


async def test_who_may_not_deposit(client: httpx.AsyncClient, factory: MarketFactory) -> None:
    university = await factory.organization(OrganizationKind.university)
    seller = await factory.person(university, MemberRole.owner)
    holder = await factory.organization()
    auction = await factory.auction(university, intent_holders=[holder.id])
    unverified = await factory.person(await factory.organization(verified=False))
    stranger = await factory.person(await factory.organization())
    holder_member = await factory.person(holder)

    async def deposit(person: Person, **body: Any) -> httpx.Response:
        return await client.post(
            f"/v1/auctions/{auction.id}/deposits", json=body, headers=person.headers
        )

    assert (await deposit(seller)).json()["errors"][0]["code"] == "bid_own_listing"
    assert (await deposit(unverified)).json()["errors"][0]["code"] == "bidder_unverified"
    assert (await deposit(stranger)).json()["errors"][0]["code"] == "bidder_not_intent_holder"
    on_behalf = await deposit(stranger, organization_id=str(holder.id))
    assert on_behalf.status_code == 422
    assert on_behalf.json()["errors"][0]["code"] == "not_your_organization"
    assert (await deposit(holder_member)).status_code == 201


# --- bids --------------------------------------------------------------------------------


async def test_bids_start_at_the_start_price_and_rise_by_the_increment(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)  # 100,000 CNY
    _, a = await factory.bidder(auction)
    _, b = await factory.bidder(auction)

    low = await bid(client, auction, a, "99999")
    first = await bid(client, auction, a, "100000")
    again = await bid(client, auction, a, "120000")
    short = await bid(client, auction, b, "104999.99")
    second = await bid(client, auction, b, "105000")

    assert low.status_code == 409
    assert low.json()["code"] == "bid_too_low"
    assert low.json()["minimum"] == cny("100000.00")
    assert low.json()["errors"][0]["field"] == "body.amount"
    assert first.status_code == 201, first.text
    assert first.json()["auction"]["current_price"] == cny("100000.00")
    assert first.json()["auction"]["minimum_bid"] == cny("105000.00")
    assert first.json()["auction"]["you_lead"] is True
    assert first.json()["bids"] == [
        {
            "sequence": 1,
            "amount": cny("100000.00"),
            "paddle": 1,
            "by_proxy": False,
            "mine": True,
            "placed_at": first.json()["bids"][0]["placed_at"],
        }
    ]
    assert again.json()["code"] == "already_leading"
    assert short.json()["minimum"] == cny("105000.00")
    assert second.status_code == 201
    assert [b.amount_fen for b in await stored_bids(sessionmaker, auction)] == [
        10_000_000,
        10_500_000,
    ]


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ({"amount": "abc", "currency": "CNY"}, "money_format"),
        ({"amount": "100000.001", "currency": "CNY"}, "money_format"),
        ({"amount": "100000", "currency": "USD"}, "money_currency"),
        ({"amount": "0", "currency": "CNY"}, "money_not_positive"),
        ({"amount": "-5", "currency": "CNY"}, "money_not_positive"),
        (100000, "money_format"),
    ],
)
async def test_bad_amounts_are_refused_naming_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, amount: Any, code: str
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)

    response = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": amount}, headers=person.headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.amount"
    assert response.json()["errors"][0]["code"] == code


async def test_no_bidding_for_someone_else_nor_outside_the_auction_hours(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    auction = await factory.auction(opens_in=timedelta(hours=1), lasts=timedelta(hours=1))
    other, _ = await factory.bidder(auction)
    _, person = await factory.bidder(auction)

    on_behalf = await bid(client, auction, person, "100000", organization_id=str(other.id))
    early = await bid(client, auction, person, "100000")
    clock.advance(timedelta(hours=1))
    on_time = await bid(client, auction, person, "100000")
    clock.advance(timedelta(hours=1))
    late = await bid(client, auction, person, "200000")
    missing = await client.post(
        f"/v1/auctions/{uuid.uuid4()}/bids",
        json={"amount": cny("1")},
        headers=person.headers,
    )

    assert on_behalf.status_code == 422
    assert on_behalf.json()["errors"][0]["code"] == "not_your_organization"
    assert early.status_code == 409
    assert early.json()["code"] == "auction_not_open"
    assert on_time.status_code == 201
    assert on_time.json()["auction"]["state"] == "open"  # opened by the first bid on time
    assert late.status_code == 409
    assert late.json()["code"] == "auction_closed"
    assert missing.status_code == 404


async def test_an_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)
    headers = {**person.headers, "Idempotency-Key": "bid-0001"}
    body = {"amount": cny("100000")}

    first = await client.post(f"/v1/auctions/{auction.id}/bids", json=body, headers=headers)
    replay = await client.post(f"/v1/auctions/{auction.id}/bids", json=body, headers=headers)
    other = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": cny("200000")}, headers=headers
    )
    bad_key = await client.post(
        f"/v1/auctions/{auction.id}/bids",
        json=body,
        headers={**person.headers, "Idempotency-Key": "x" * 256},
    )

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["field"] == "header.idempotency-key"
    assert len(await stored_bids(sessionmaker, auction)) == 1


async def test_concurrent_retries_with_one_key_bid_once(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)
    headers = {**person.headers, "Idempotency-Key": "retry-storm"}

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/auctions/{auction.id}/bids", json={"amount": cny("100000")}, headers=headers
            )
            for _ in range(8)
        )
    )

    assert {r.status_code for r in responses} == {201}
    assert all(r.json() == responses[0].json() for r in responses)
    assert len(await stored_bids(sessionmaker, auction)) == 1


async def test_a_bid_whose_key_was_taken_meanwhile_stores_nothing_and_answers_as_a_retry(
    client: httpx.AsyncClient,
    app: Any,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A bid claims its key in the statement that stores it: when the key was used after the
    bid's read (a retry of the same request that landed first), the statement stores nothing
    and the request answers with the first answer."""
    auction = await factory.auction(start_price_fen=10_000_000)
    (first, alice), _ = [await factory.bidder(auction) for _ in range(2)]
    headers = {**alice.headers, "Idempotency-Key": "taken-meanwhile"}
    standing = await queries.standing(app.state.reads, auction.id, first.id)
    assert standing.deposit is not None
    caller = Principal("user", alice.user_id, frozenset(), {first.id: MemberRole.owner})
    late = standing.book.place_bid(first.id, 10_000_000)
    write, _ = bidding._bid_write(caller, standing, standing.deposit, late, clock.now())
    answer = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": cny("100000")}, headers=headers
    )
    assert answer.status_code == 201
    [stored] = await stored_bids(sessionmaker, auction)
    # The same request's row, written by the bid that landed: the auction is unchanged for
    # this write (the store is guarded by the version it read), so only the key stops it.
    row = {"owner": f"user:{alice.user_id}", "key": "taken-meanwhile", "fingerprint": "f",
           "status_code": 201, "response": {}, "created_at": clock.wall().isoformat()}  # fmt: skip
    fresh = await queries.standing(app.state.reads, auction.id, first.id)
    write.auction.sequence, write.auction.event_sequence = fresh.auction.sequence + 1, 99

    with pytest.raises(bidding.KEY_USED):
        await bidding._store(app.state.reads, fresh.version, write, clock.now(), row)
    assert [bid.id for bid in await stored_bids(sessionmaker, auction)] == [stored.id]
    replay = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": cny("100000")}, headers=headers
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == answer.json()


async def test_an_expired_key_is_used_afresh_by_a_bid(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000, lasts=timedelta(days=2))
    _, person = await factory.bidder(auction)
    headers = {**person.headers, "Idempotency-Key": "a-day-old"}
    first = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": cny("100000")}, headers=headers
    )
    later(clock, hours=24, seconds=1)

    again = await client.post(
        f"/v1/auctions/{auction.id}/bids", json={"amount": cny("105000")}, headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 409)
    assert again.json()["code"] == "already_leading"  # decided afresh, not replayed
    assert "idempotent-replayed" not in again.headers
    assert len(await stored_bids(sessionmaker, auction)) == 1


# --- proxy bids ------------------------------------------------------------------------


async def test_proxies_bid_for_their_owners(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)
    _, a = await factory.bidder(auction)
    _, b = await factory.bidder(auction)
    _, c = await factory.bidder(auction)

    set_a = await proxy(client, auction, a, "130000")
    manual_b = await bid(client, auction, b, "110000")
    set_c = await proxy(client, auction, c, "200000")
    seen_by_a = await client.get(f"/v1/auctions/{auction.id}/proxy-bids", headers=a.headers)
    seen_by_b = await client.get(f"/v1/auctions/{auction.id}/proxy-bids", headers=b.headers)

    assert set_a.status_code == 201, set_a.text
    assert set_a.json()["auction"]["current_price"] == cny("100000.00")  # opens at the start
    # b's bid is answered at once by a's proxy: 110,000 + 5,000.
    assert [x["amount"] for x in manual_b.json()["bids"]] == [cny("110000.00"), cny("115000.00")]
    assert manual_b.json()["auction"]["you_lead"] is False
    # c's higher proxy wins at a's maximum plus one increment.
    assert set_c.json()["auction"]["current_price"] == cny("135000.00")
    assert set_c.json()["auction"]["you_lead"] is True
    assert [p["maximum"] for p in seen_by_a.json()] == [cny("130000.00")]
    assert seen_by_b.json() == []
    history = await client.get(f"/v1/auctions/{auction.id}/bids", headers=b.headers)
    assert [
        (x["amount"]["amount"], x["paddle"], x["by_proxy"]) for x in history.json()["items"]
    ] == [
        ("135000.00", 3, True),
        ("130000.00", 1, True),
        ("115000.00", 1, True),
        ("110000.00", 2, False),
        ("100000.00", 1, True),
    ]


async def test_a_proxy_maximum_below_the_minimum_is_refused(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)
    _, a = await factory.bidder(auction)
    _, b = await factory.bidder(auction)
    await bid(client, auction, a, "120000")

    response = await proxy(client, auction, b, "121000")

    assert response.status_code == 409
    assert response.json()["code"] == "proxy_maximum_too_low"
    assert response.json()["minimum"] == cny("125000.00")
    assert response.json()["errors"][0]["field"] == "body.maximum"


# --- anti-sniping and closing ----------------------------------------------------------


async def test_a_late_bid_extends_the_end_up_to_the_limit(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seller = await factory.organization(OrganizationKind.university)
    owner = await factory.person(seller, MemberRole.owner)
    auction = await factory.auction(
        seller, opens_in=timedelta(minutes=10), lasts=timedelta(hours=1)
    )
    await client.patch(
        f"/v1/auctions/{auction.id}",
        json={
            "anti_sniping": {"window_seconds": 300, "extension_seconds": 600, "max_extensions": 2}
        },
        headers=owner.headers,
    )
    _, a = await factory.bidder(auction)
    _, b = await factory.bidder(auction)
    end = auction.ends_at

    clock.set(end - timedelta(minutes=10))
    calm = await bid(client, auction, a, "100000")
    clock.set(end - timedelta(minutes=1))
    late = await bid(client, auction, b, "105000")
    first_extension = late.json()["auction"]["ends_at"]
    clock.set(end + timedelta(minutes=8))
    later = await bid(client, auction, a, "110000")
    clock.set(end + timedelta(minutes=17))
    limit = await bid(client, auction, b, "115000")

    assert calm.json()["extended"] is False
    assert late.json()["extended"] is True
    assert first_extension == (end + timedelta(minutes=9)).isoformat().replace("+00:00", "Z")
    assert later.json()["auction"]["extensions"] == 2
    assert limit.json()["extended"] is False  # two extensions at most
    final_end = end + timedelta(minutes=18)

    # The close job at the scheduled end finds the end moved, and comes back then.
    clock.set(end)
    next_at = await advance(sessionmaker, PROVIDER, auction.id, clock.now())
    assert next_at == final_end
    clock.set(final_end)
    assert await advance(sessionmaker, PROVIDER, auction.id, clock.now()) is None
    seen = await client.get(f"/v1/auctions/{auction.id}", headers=owner.headers)
    assert seen.json()["state"] == "settled"
    assert seen.json()["hammer_price"] == cny("115000.00")


async def test_closing_sells_to_the_highest_bid_applies_its_deposit_and_releases_the_rest(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)
    winner, a = await factory.bidder(auction)
    loser, b = await factory.bidder(auction)
    unconfirmed = await factory.organization()
    await factory.deposit(auction, unconfirmed, held=False)
    await bid(client, auction, b, "100000")
    await bid(client, auction, a, "150000")

    clock.set(auction.ends_at)
    assert await advance(sessionmaker, PROVIDER, auction.id, clock.now()) is None
    late = await bid(client, auction, b, "200000")
    seen = await client.get(f"/v1/auctions/{auction.id}", headers=a.headers)
    seen_by_loser = await client.get(f"/v1/auctions/{auction.id}", headers=b.headers)

    async with sessionmaker() as session:
        deposits = {d.organization_id: d.state for d in await session.scalars(select(Deposit))}
        deal = await session.scalar(select(Deal))
        topics = list(await session.scalars(select(OutboxEvent.topic)))
    assert late.json()["code"] == "auction_closed"
    assert seen.json()["state"] == "settled"
    assert seen.json()["winner_organization_id"] == str(winner.id)
    assert seen.json()["deal_id"] == str(deal.id)  # type: ignore[union-attr]
    assert seen_by_loser.json()["winner_organization_id"] is None
    assert deposits == {
        winner.id: DepositState.applied,
        loser.id: DepositState.released,
        unconfirmed.id: DepositState.cancelled,
    }
    assert deal is not None
    assert (deal.source, deal.buyer_organization_id, deal.price_fen) == (
        DealSource.auction,
        winner.id,
        15_000_000,
    )
    assert deal.deposit_applied_fen == auction.deposit_fen
    assert topics.count("auction.closed") == topics.count("auction.settled") == 1
    assert topics.count("deal.opened") == 1


async def test_without_a_bid_at_the_reserve_the_auction_fails(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000, reserve_fen=20_000_000)
    _, person = await factory.bidder(auction)
    response = await bid(client, auction, person, "150000")
    assert response.json()["auction"]["reserve_met"] is False

    clock.set(auction.ends_at)
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())

    async with sessionmaker() as session:
        state = await session.scalar(select(Auction.state).where(Auction.id == auction.id))
        deposit = await session.scalar(select(Deposit.state))
        deals = await session.scalar(select(func.count()).select_from(Deal))
    assert (state, deposit, deals) == ("failed", DepositState.released, 0)


async def test_closing_happens_once_when_workers_race(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)
    await bid(client, auction, person, "100000")
    clock.set(auction.ends_at + timedelta(seconds=1))

    await asyncio.gather(
        *(advance(sessionmaker, PROVIDER, auction.id, clock.now()) for _ in range(6))
    )

    async with sessionmaker() as session:
        deals = await session.scalar(select(func.count()).select_from(Deal))
        settled = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "auction.settled")
        )
        kinds = list(
            await session.scalars(select(AuctionEvent.kind).order_by(AuctionEvent.sequence))
        )
    assert (deals, settled) == (1, 1)
    assert kinds == ["opened", "bid", "price", "closed", "settled"]


async def test_the_platform_cancels_with_a_reason_and_every_deposit_is_released(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)
    await bid(client, auction, person, "100000")
    reviewer = await factory.staff(PlatformRole.reviewer)

    cancelled = await client.post(
        f"/v1/auctions/{auction.id}/cancel", json={"reason": "权属争议"}, headers=reviewer.headers
    )
    after = await bid(client, auction, person, "200000")
    twice = await client.post(
        f"/v1/auctions/{auction.id}/cancel", json={"reason": "again"}, headers=reviewer.headers
    )

    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "权属争议"
    assert after.json()["code"] == "auction_closed"
    assert twice.status_code == 409
    async with sessionmaker() as session:
        assert await session.scalar(select(Deposit.state)) == DepositState.released


async def test_bids_are_append_only(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction()
    _, person = await factory.bidder(auction)
    await bid(client, auction, person, "100000")

    async with sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("UPDATE auction_bids SET amount_fen = 1"))
        await session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("DELETE FROM auction_bids"))


async def test_the_window_close_schedules_the_auction_through_the_outbox(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(opens_in=timedelta(days=3))

    await relay_events(sessionmaker, clock)

    async with sessionmaker() as session:
        jobs = (
            await session.execute(
                text(
                    "SELECT args, scheduled_at FROM procrastinate_jobs WHERE task_name = 'auctions:advance_auction'"
                )
            )
        ).all()
    assert [(job.args, job.scheduled_at) for job in jobs] == [
        ({"auction_id": str(auction.id)}, auction.starts_at)
    ]


async def test_two_hundred_concurrent_bidders_leave_a_strictly_increasing_history(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    auction = await factory.auction(start_price_fen=10_000_000)
    people = [person for _, person in [await factory.bidder(auction) for _ in range(200)]]
    # On the increment grid: 5,000 apart below 1,000,000 CNY, 10,000 apart from there.
    amounts = [100_000 + 5_000 * step for step in range(180)]
    amounts += [1_000_000 + 10_000 * step for step in range(1, 21)]
    random.Random(5).shuffle(amounts)

    async def contend(person: Person, amount: int) -> list[httpx.Response]:
        """Bid; when outbid, try again once at the minimum the refusal names."""
        first = await bid(client, auction, person, str(amount))
        if first.status_code != 409 or first.json()["code"] != "bid_too_low":
            return [first]
        return [first, await bid(client, auction, person, first.json()["minimum"]["amount"])]

    answers = await asyncio.gather(
        *(contend(person, amount) for person, amount in zip(people, amounts, strict=True))
    )
    responses = [response for answer in answers for response in answer]

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409, 422}, statuses
    refused = {r.json()["code"] for r in responses if r.status_code != 201}
    assert refused <= {"bid_too_low", "already_leading"}
    history = await stored_bids(sessionmaker, auction)
    assert len(history) == statuses[201] > 1
    assert [b.sequence for b in history] == list(range(1, len(history) + 1))
    assert all(x.amount_fen < y.amount_fen for x, y in pairwise(history))
    accepted = [r.json()["bids"][0]["amount"] for r in responses if r.status_code == 201]
    assert sorted(Money.yuan(a["amount"]).fen for a in accepted) == [b.amount_fen for b in history]


async def test_bids_racing_in_one_process_send_one_write(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Eight bidders bid the same minimum at once: one is stored, and the others, read before
    it landed, are refused by the book it left — by this process, without a write that would
    find the auction changed."""
    auction = await factory.auction(start_price_fen=10_000_000)
    people = [person for _, person in [await factory.bidder(auction) for _ in range(8)]]
    before = samples((await client.get("/metrics")).text)

    answers = await asyncio.gather(
        *(bid(client, auction, person, "100000.00") for person in people)
    )

    after = samples((await client.get("/metrics")).text)
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7
    refusals = [answer.json() for answer in answers if answer.status_code == 409]
    assert {(r["code"], r["minimum"]["amount"]) for r in refusals} == {("bid_too_low", "105000.00")}
    assert len(await stored_bids(sessionmaker, auction)) == 1

    def writes(outcome: str) -> float:
        name = f'techx_bid_writes_total{{outcome="{outcome}"}}'
        return after.get(name, 0) - before.get(name, 0)

    assert (writes("stored"), writes("auction_changed")) == (1, 0)


async def test_a_bid_under_the_auctions_lock_commits_its_own_transaction(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last attempt of a bid that kept losing races reads the auction under its lock, in
    a transaction of its own: stored and committed, refused without a trace, replayed."""
    monkeypatch.setattr(bidding, "UNLOCKED_ATTEMPTS", 0)
    auction = await factory.auction(start_price_fen=10_000_000)
    (_, alice), (_, bob) = [await factory.bidder(auction) for _ in range(2)]
    headers = {**alice.headers, "Idempotency-Key": "under-the-lock"}
    body = {"amount": cny("100000.00")}

    placed = await client.post(f"/v1/auctions/{auction.id}/bids", json=body, headers=headers)
    replayed = await client.post(f"/v1/auctions/{auction.id}/bids", json=body, headers=headers)
    low = await bid(client, auction, bob, "100000.00")

    assert placed.status_code == replayed.status_code == 201
    assert replayed.json() == placed.json()
    assert (low.status_code, low.json()["code"]) == (409, "bid_too_low")
    assert [b.amount_fen for b in await stored_bids(sessionmaker, auction)] == [10_000_000]


async def test_a_bid_worked_out_before_another_landed_is_not_stored(
    client: httpx.AsyncClient,
    app: Any,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The race the concurrent test leaves to chance: a bid is computed on the auction as an
    unlocked read found it, and stored only if the auction is still that version; otherwise
    nothing of it is written, and the request decides again on what landed."""
    auction = await factory.auction(start_price_fen=10_000_000)
    (first, alice), (_, bob) = [await factory.bidder(auction) for _ in range(2)]
    standing = await queries.standing(app.state.reads, auction.id, first.id)
    assert standing.deposit is not None
    late = standing.book.place_bid(first.id, 10_000_000)
    caller = Principal("user", alice.user_id, frozenset(), {first.id: MemberRole.owner})
    write, _ = bidding._bid_write(caller, standing, standing.deposit, late, clock.now())

    assert (await bid(client, auction, bob, "100000.00")).status_code == 201
    assert not await bidding._store(app.state.reads, standing.version, write, clock.now(), None)
    [kept] = await stored_bids(sessionmaker, auction)
    assert kept.amount_fen == 10_000_000
    assert kept.organization_id != first.id

    again = await bid(client, auction, alice, "100000.00")
    assert again.status_code == 409, again.text
    assert again.json()["minimum"] == cny("105000.00")


async def test_a_new_schedule_moves_the_workers_job(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The auction opens at its new start, not at the next sweep after the old one."""
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(university, opens_in=timedelta(days=3))
    await relay_events(sessionmaker, clock)
    earlier = clock.now() + timedelta(hours=5)

    moved = await client.patch(
        f"/v1/auctions/{auction.id}",
        json={
            "starts_at": earlier.isoformat(),
            "ends_at": (earlier + timedelta(hours=2)).isoformat(),
        },
        headers=owner.headers,
    )
    await relay_events(sessionmaker, clock)
    async with sessionmaker() as session:
        waiting = (
            await session.execute(
                text(
                    "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'auctions:advance_auction' "
                    "AND status = 'todo' AND args->>'auction_id' = :auction"
                ),
                {"auction": str(auction.id)},
            )
        ).all()

    assert moved.status_code == 200, moved.text
    assert [row.scheduled_at for row in waiting] == [earlier]


async def test_a_bid_off_the_increment_grid_names_the_nearest_acceptable_amounts(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    """加价幅度的正整数倍: from 100,000 CNY the increment is 5,000 (the default table)."""
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    later_auction = await factory.auction(university, opens_in=timedelta(days=1))
    auction = await factory.auction(start_price_fen=10_000_000)
    [(_, alice)] = [await factory.bidder(auction)]
    bids = f"/v1/auctions/{auction.id}/bids"

    off = await client.post(bids, json={"amount": cny("107000")}, headers=alice.headers)
    on = await client.post(bids, json={"amount": cny("110000")}, headers=alice.headers)
    shown = await client.get(f"/v1/auctions/{auction.id}", headers=alice.headers)
    freed = await client.patch(
        f"/v1/auctions/{later_auction.id}", json={"increment_grid": "free"}, headers=owner.headers
    )
    wrong = await client.patch(
        f"/v1/auctions/{later_auction.id}", json={"increment_grid": "any"}, headers=owner.headers
    )

    assert off.status_code == 422, off.text
    [error] = off.json()["errors"]
    assert (error["field"], error["code"]) == ("body.amount", "off_increment_grid")
    assert "105000.00 / 110000.00" in error["message"]
    assert off.json()["nearest"] == [cny("105000.00"), cny("110000.00")]
    assert on.status_code == 201, on.text
    assert shown.json()["increment_grid"] == "from_price"
    assert freed.status_code == 200, freed.text
    assert freed.json()["increment_grid"] == "free"
    assert freed.json()["increments"] == shown.json()["increments"]
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.increment_grid"


async def test_two_phase_timing_restarts_the_countdown_with_each_bid_after_the_free_period(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """自由报价期 then 限时报价期: a bid in the free period moves nothing; from its end each bid
    restarts a five-minute countdown, with no cap that an auction reaches."""
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(
        university, start_price_fen=10_000_000, opens_in=timedelta(hours=1)
    )
    (_, alice), (_, bob) = [await factory.bidder(auction) for _ in range(2)]
    free_end = auction.starts_at + timedelta(hours=2)
    both = await client.patch(
        f"/v1/auctions/{auction.id}",
        json={
            "two_phase": {"free_period_ends_at": free_end.isoformat(), "countdown_seconds": 300},
            "ends_at": free_end.isoformat(),
        },
        headers=owner.headers,
    )
    timed = await client.patch(
        f"/v1/auctions/{auction.id}",
        json={"two_phase": {"free_period_ends_at": free_end.isoformat(), "countdown_seconds": 300}},
        headers=owner.headers,
    )
    clock.set(auction.starts_at + timedelta(minutes=10))
    in_free_period = await bid(client, auction, alice, "100000")
    ends = [in_free_period.json()["auction"]["ends_at"]]
    clock.set(free_end + timedelta(minutes=4))
    for person, amount in ((bob, "105000"), (alice, "110000"), (bob, "115000")):
        placed = await bid(client, auction, person, amount)
        assert placed.status_code == 201, placed.text
        ends.append(placed.json()["auction"]["ends_at"])
        clock.advance(timedelta(minutes=4))  # each within the restarted countdown
    async with sessionmaker() as session:
        extended = (
            await session.scalars(
                select(AuctionEvent.data)
                .where(AuctionEvent.auction_id == auction.id, AuctionEvent.kind == "extended")
                .order_by(AuctionEvent.sequence)
            )
        ).all()

    assert both.status_code == 422
    assert both.json()["errors"][0]["field"] == "body.two_phase"
    assert timed.status_code == 200, timed.text
    assert timed.json()["two_phase"] == {
        "free_period_ends_at": free_end.isoformat().replace("+00:00", "Z"),
        "countdown_seconds": 300,
    }
    assert timed.json()["scheduled_end_at"] == (
        free_end + timedelta(minutes=5)
    ).isoformat().replace("+00:00", "Z")
    assert timed.json()["anti_sniping"]["window_seconds"] == 300
    first_end = free_end + timedelta(minutes=5)
    restarts = [free_end + timedelta(minutes=4 + 4 * n + 5) for n in range(3)]
    assert ends == [moment.isoformat().replace("+00:00", "Z") for moment in (first_end, *restarts)]
    assert [event["countdown_restarted"] for event in extended] == [True, True, True]


async def test_a_sealed_auction_takes_one_hidden_amount_each_and_the_highest_wins(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """一次性报价: one sealed amount per deposit holder, nobody sees another's, at the end the
    highest at or above the reserve wins and an equal amount loses to the earlier."""
    university = await factory.organization(OrganizationKind.university)
    owner = await factory.person(university, MemberRole.owner)
    auction = await factory.auction(
        university, start_price_fen=10_000_000, opens_in=timedelta(hours=1), reserve_fen=11_000_000
    )
    (alice_org, alice), (bob_org, bob), (_, carol) = [
        await factory.bidder(auction) for _ in range(3)
    ]
    sealed_terms = await client.patch(
        f"/v1/auctions/{auction.id}", json={"format": "sealed"}, headers=owner.headers
    )
    sealed_bids = f"/v1/auctions/{auction.id}/sealed-bids"
    clock.set(auction.starts_at + timedelta(minutes=1))

    off_grid = await client.post(sealed_bids, json={"amount": cny("112500")}, headers=alice.headers)
    alice_in = await client.post(sealed_bids, json={"amount": cny("120000")}, headers=alice.headers)
    again = await client.post(sealed_bids, json={"amount": cny("130000")}, headers=alice.headers)
    clock.advance(timedelta(minutes=1))
    bob_in = await client.post(sealed_bids, json={"amount": cny("120000")}, headers=bob.headers)
    carol_in = await client.post(sealed_bids, json={"amount": cny("105000")}, headers=carol.headers)
    open_bid = await bid(client, auction, carol, "110000")
    seen_by_bob = await client.get(f"/v1/auctions/{auction.id}", headers=bob.headers)
    bobs_own = await client.get(sealed_bids, headers=bob.headers)
    clock.set(auction.ends_at)
    await advance(sessionmaker, PROVIDER, auction.id, clock.now())
    settled = await client.get(f"/v1/auctions/{auction.id}", headers=owner.headers)

    assert sealed_terms.json()["format"] == "sealed"
    assert off_grid.status_code == 422
    assert off_grid.json()["nearest"] == [cny("110000.00"), cny("115000.00")]
    assert alice_in.status_code == 201, alice_in.text
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.amount"
    assert bob_in.status_code == carol_in.status_code == 201
    assert open_bid.status_code == 409
    assert open_bid.json()["code"] == "auction_sealed"
    assert seen_by_bob.json()["current_price"] is None
    assert seen_by_bob.json()["bid_count"] == 3
    assert [b["amount"] for b in bobs_own.json()] == [cny("120000.00")]
    assert settled.json()["state"] == "settled"
    assert settled.json()["hammer_price"] == cny("120000.00")
    assert settled.json()["winner_organization_id"] == str(alice_org.id)  # the earlier of two
    assert bob_org.id != alice_org.id

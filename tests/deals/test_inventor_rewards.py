"""Inventors' rewards (科技成果转化奖励): the arithmetic, and declaring through the API."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.deals.inventor_rewards import reward_pool, split
from app.listings import service as listings
from app.results.models import Inventor
from tests.auctions.test_auctions_api import cny
from tests.deals.test_deals_api import Parties, pay_everything, sign_and_register, terms
from tests.factories import MarketFactory, Person


@pytest.mark.parametrize(
    ("net", "percent", "pool"),
    [
        (100_000_01, Decimal(50), 50_000_01),
        (3, Decimal(50), 2),
        (1, Decimal("70.5"), 1),
        (0, Decimal(50), 0),
    ],
)
def test_the_pool_is_the_rate_of_the_net_income_rounded_half_up_once(
    net: int, percent: Decimal, pool: int
) -> None:
    assert reward_pool(net, percent) == pool


def test_the_rate_cannot_go_below_the_legal_floor() -> None:
    with pytest.raises(ValueError, match="50"):
        reward_pool(100, Decimal(49))


@given(
    st.integers(0, 10**12),
    st.lists(st.integers(1, 9_900), min_size=1, max_size=8),
)
def test_the_parts_add_up_to_the_pool_and_follow_the_shares(pool: int, weights: list[int]) -> None:
    total = sum(weights)
    shares = [Decimal(w) * 100 / total for w in weights]

    parts = split(pool, shares)

    assert sum(parts) == pool  # no fen created or lost
    for part, share in zip(parts, shares, strict=True):
        assert abs(Decimal(part) - Decimal(pool) * share / 100) < 1


def test_without_shares_the_inventors_share_equally() -> None:
    assert split(100, [None, None, None]) == [34, 33, 33]


async def test_a_university_rewards_its_inventors_from_each_received_payment(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    university = await factory.organization(OrganizationKind.university, division_code="150203")
    buyer = await factory.organization()
    p = Parties(
        university,
        buyer,
        await factory.person(university, MemberRole.owner),
        await factory.person(buyer, MemberRole.owner),
    )
    result = await factory.result(university)
    async with sessionmaker() as session, session.begin():
        session.add_all(
            [
                Inventor(result_id=result.id, position=1, name="张明", share=Decimal(60)),
                Inventor(result_id=result.id, position=2, name="李华", share=Decimal(40)),
            ]
        )
    listing = await factory.listing(university, price_fen=20_000_000, result=result)
    await factory.intent(listing, buyer)
    clock.set(listing.window_ends_at)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        await listings.close_publication_window(session, listing.id, now=clock.now())
    deal_id = (await client.get("/v1/deals", headers=p.buyer_owner.headers)).json()["items"][0][
        "id"
    ]
    rate = await client.patch(
        f"/v1/organizations/{university.id}",
        json={"inventor_reward_percent": "70"},
        headers=p.seller_owner.headers,
    )
    too_low = await client.patch(
        f"/v1/organizations/{university.id}",
        json={"inventor_reward_percent": "49.99"},
        headers=p.seller_owner.headers,
    )
    registrar = await factory.staff(PlatformRole.registrar)
    finance = await factory.staff(PlatformRole.finance)
    await sign_and_register(client, deal_id, p, registrar, terms("200000"))
    first, _ = await pay_everything(client, deal_id, p, finance)

    async def declare(costs: str, person: Person = p.seller_owner) -> httpx.Response:
        return await client.post(
            f"/v1/deals/{deal_id}/inventor-shares",
            json={"payment_id": first["id"], "costs": cny(costs)},
            headers=person.headers,
        )

    too_costly = await declare("100000.01")
    by_buyer = await declare("0", p.buyer_owner)
    declared = await declare("20000")
    again = await declare("20000")
    seen_by_buyer = await client.get(
        f"/v1/deals/{deal_id}/inventor-shares", headers=p.buyer_owner.headers
    )
    seen_by_seller = await client.get(
        f"/v1/deals/{deal_id}/inventor-shares", headers=p.seller_owner.headers
    )

    assert rate.json()["inventor_reward_percent"] == "70.00"
    assert too_low.status_code == 422
    assert too_costly.json()["errors"][0]["field"] == "body.costs"
    assert by_buyer.status_code == 404  # the seller's inventors are no business of the buyer
    assert declared.status_code == 201, declared.text
    body = declared.json()
    assert (body["income"], body["net_income"], body["pool"]) == (
        cny("100000.00"),
        cny("80000.00"),
        cny("56000.00"),  # 70 % of the net
    )
    assert [(r["name"], r["amount"]) for r in body["rewards"]] == [
        ("张明", cny("33600.00")),
        ("李华", cny("22400.00")),
    ]
    assert again.status_code == 409
    assert seen_by_buyer.status_code == 404
    assert seen_by_seller.json() == [body]

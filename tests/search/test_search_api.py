"""GET /v1/search/listings and keeping the index in step, over the real app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.listings.models import ListingState
from app.main import create_app
from search import service, tasks
from search.postgres import PostgresBackend
from search.router import SearchPage
from tests.factories import MarketFactory
from tests.market import publish_listing, relay_events

DEAD_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


async def test_a_published_listing_is_found_without_login(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    listing_id = await publish_listing(client, factory, title="风电机组叶片除冰系统")
    await factory.listing(await factory.organization(), state=ListingState.draft)
    await relay_events(sessionmaker, clock)

    response = await client.get("/v1/search/listings", params={"q": "风电 除冰"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    assert body["hits"][0]["listing"]["id"] == listing_id
    assert "<em>风电</em>" in body["hits"][0]["highlights"]["title"]
    assert body["facets"]["field_parent"] == {"new_materials": 1}
    assert response.headers["ratelimit-limit"] == "120"


async def test_the_page_written_by_hand_is_exactly_the_documented_one(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    for title in ("稀土永磁电机", "稀土抛光粉", "稀土催化剂"):
        await publish_listing(client, factory, title=title)
    await relay_events(sessionmaker, clock)

    response = await client.get("/v1/search/listings", params={"q": "稀土", "limit": 1})

    body = response.json()
    assert response.headers["content-type"] == "application/json"
    # The stored documents, spliced in as they are, hold every field of the model and no other,
    # in the types it gives them.
    assert SearchPage.model_validate(body).model_dump(mode="json") == body
    assert (body["total"], len(body["hits"])) == (3, 1)
    assert body["next_cursor"]


async def test_withdrawn_listings_leave_the_index(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    organization = await factory.organization(OrganizationKind.university)
    owner = await factory.person(organization, MemberRole.owner)
    reviewer = await factory.staff(PlatformRole.reviewer)
    listing = await factory.listing(organization, state=ListingState.pending_review)
    await client.post(f"/v1/listings/{listing.id}/approve", headers=reviewer.headers)
    await relay_events(sessionmaker, clock)
    assert (await client.get("/v1/search/listings")).json()["total"] == 1

    await client.post(
        f"/v1/listings/{listing.id}/withdraw", json={"reason": "已另行转让"}, headers=owner.headers
    )
    await relay_events(sessionmaker, clock)

    assert (await client.get("/v1/search/listings")).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "query.colour"),
        ({"field": "alchemy"}, "query.field"),
        ({"kind": "spell"}, "query.kind"),
        ({"sort": "random"}, "query.sort"),
        ({"region": "1"}, "query.region"),
        ({"price_min": "abc"}, "query.price_min"),
        ({"price_min": "1.234"}, "query.price_min"),
        ({"price_min": "500", "price_max": "100"}, "query.price_max"),
        ({"price_max": "9.7e+257"}, "query.price_max"),  # beyond any price: 422, not a 500
        ({"q": "稀" * 201}, "query.q"),
        ({"limit": 1000}, "query.limit"),
        ({"cursor": "garbage"}, "query.cursor"),
    ],
)
async def test_bad_parameters_are_named(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get("/v1/search/listings", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


async def test_a_cursor_only_continues_its_own_query(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    for _ in range(3):
        await publish_listing(client, factory)
    await relay_events(sessionmaker, clock)

    first = (await client.get("/v1/search/listings", params={"limit": 2})).json()
    second = (
        await client.get("/v1/search/listings", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    other = await client.get(
        "/v1/search/listings", params={"q": "稀土", "cursor": first["next_cursor"]}
    )

    assert len(first["hits"]) == 2
    assert len(second["hits"]) == 1
    assert second["next_cursor"] is None
    assert {h["listing"]["id"] for h in first["hits"]}.isdisjoint(
        h["listing"]["id"] for h in second["hits"]
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == "cursor_other_query"


async def test_search_outage_is_503_with_retry_after(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings, clock=clock)
    app.state.search = PostgresBackend(
        create_sessionmaker(create_engine(DEAD_DATABASE, pool_size=1), clock)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/v1/search/listings", params={"q": "稀土"})
    await app.state.engine.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "search_unavailable"


async def test_the_index_catches_up_after_an_outage(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = PostgresBackend(create_sessionmaker(create_engine(DEAD_DATABASE, pool_size=1), clock))
    monkeypatch.setattr(tasks, "search_backend", lambda: dead)
    listing_id = await publish_listing(
        client, factory
    )  # the marketplace write works while search is down
    await relay_events(sessionmaker, clock)
    assert (await client.get("/v1/search/listings")).json()["total"] == 0

    monkeypatch.undo()
    await relay_events(sessionmaker, clock)

    hits = (await client.get("/v1/search/listings")).json()["hits"]
    assert [hit["listing"]["id"] for hit in hits] == [listing_id]


async def test_rate_limit_answers_429(settings: Settings, clock: FrozenClock) -> None:
    app: FastAPI = create_app(
        settings.model_copy(update={"rate_limits": {"search": 2}}), clock=clock
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        answers = [await http.get("/v1/search/listings") for _ in range(3)]
    await app.state.engine.dispose()

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["ratelimit-remaining"] == "0"
    assert int(answers[2].headers["retry-after"]) > 0
    assert answers[2].json()["code"] == "rate_limited"


async def test_reindex_and_drift(
    factory: MarketFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    backend = PostgresBackend(sessionmaker)
    organization = await factory.organization(OrganizationKind.university)
    listings = [await factory.listing(organization) for _ in range(3)]
    await factory.listing(organization, state=ListingState.draft)

    before = await service.drift(sessionmaker, backend)
    indexed = await service.reindex(sessionmaker, backend, batch=2)
    after = await service.drift(sessionmaker, backend)
    await backend.reads.close()

    assert sorted(before.missing) == sorted(listing.id for listing in listings)
    assert indexed == 3
    assert after.clean

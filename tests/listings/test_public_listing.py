"""A published listing is a public notice (公示): anyone reads it without an account, exactly
as search shows it; drafts, rejected and withdrawn listings stay 404 to outsiders; a bad
credential is still a 401, a credential still gets the full listing."""

from __future__ import annotations

import httpx

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from app.listings.models import ListingState
from tests.factories import MarketFactory
from tests.market import publish_listing, relay_events


async def test_a_published_listing_is_read_without_an_account_as_search_shows_it(
    client: httpx.AsyncClient, factory: MarketFactory, sessionmaker: object, clock: FrozenClock
) -> None:
    listing_id = await publish_listing(client, factory, title="风电叶片除冰涂层")
    await relay_events(sessionmaker, clock)  # type: ignore[arg-type]
    public = await client.get(f"/v1/listings/{listing_id}")
    [hit] = (await client.get("/v1/search/listings", params={"q": "除冰"})).json()["hits"]
    member = await factory.person(await factory.organization(), MemberRole.member)
    with_account = await client.get(f"/v1/listings/{listing_id}", headers=member.headers)
    bad = await client.get(
        f"/v1/listings/{listing_id}", headers={"Authorization": "Bearer not.a.token"}
    )

    assert public.status_code == 200, public.text
    assert public.json() == hit["listing"]
    assert "cache-control" not in public.headers
    assert with_account.status_code == 200
    assert "intent_count" in with_account.json()  # the caller's view, not the notice
    assert bad.status_code == 401


async def test_what_is_not_on_the_market_is_404_to_anyone_without_an_account(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    hidden = [
        await factory.listing(university, state=state)
        for state in (
            ListingState.draft,
            ListingState.pending_review,
            ListingState.rejected,
            ListingState.withdrawn,
        )
    ]
    published = await factory.listing(university, state=ListingState.published)

    answers = [(await client.get(f"/v1/listings/{listing.id}")).status_code for listing in hidden]
    shown = await client.get(f"/v1/listings/{published.id}")

    assert answers == [404, 404, 404, 404]
    assert shown.status_code == 200
    assert shown.json()["id"] == str(published.id)

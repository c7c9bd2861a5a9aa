"""Listings over HTTP: terms, the review state machine, publication windows and intents."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization, OrganizationKind
from app.auctions.models import Auction, EligibleBidder
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.core.outbox import OutboxEvent
from app.deals.models import Deal
from app.listings import service as listings_service
from app.listings.models import Intent, ListingMode, ListingState, ListingTransition
from app.listings.tasks import close_due_windows
from app.listings.windows import window_end
from tests.factories import MarketFactory, Person
from workers import relay
from workers.registry import SUBSCRIBERS


def _terms(**overrides: Any) -> dict[str, Any]:
    return {
        "mode": "fixed_price",
        "transfer_type": "assignment",
        "price": {"amount": "500000.00", "currency": "CNY"},
        "window_days": 15,
        "description": "转让专利权，含技术指导三个月。",
        **overrides,
    }


async def _owner_with_result(
    factory: MarketFactory, kind: OrganizationKind = OrganizationKind.university
):  # type: ignore[no-untyped-def]
    organization = await factory.organization(kind)
    owner = await factory.person(organization, MemberRole.owner)
    result = await factory.result(organization)
    return organization, owner, result


async def test_draft_submit_approve_publishes_with_a_window(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, owner, result = await _owner_with_result(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)

    draft = await client.post(
        "/v1/listings", json=_terms(result_id=str(result.id)), headers=owner.headers
    )
    listing_id = draft.json()["id"]
    submitted = await client.post(f"/v1/listings/{listing_id}/submit", headers=owner.headers)
    published = await client.post(f"/v1/listings/{listing_id}/approve", headers=reviewer.headers)
    history = await client.get(f"/v1/listings/{listing_id}/transitions", headers=owner.headers)

    assert draft.status_code == 201, draft.text
    assert draft.json()["state"] == "draft"
    assert draft.json()["next_states"] == ["pending_review", "withdrawn"]
    assert submitted.json()["state"] == "pending_review"
    body = published.json()
    assert body["state"] == "published"
    assert body["price"] == {"amount": "500000.00", "currency": "CNY"}
    # Published 10:00 Beijing on 2 Nov 2026: 15 days from 3 Nov, closing at 24:00 on 17 Nov.
    assert body["window_ends_at"] == "2026-11-17T16:00:00Z"
    steps = [(h["from_state"], h["to_state"]) for h in history.json()]
    assert steps == [(None, "draft"), ("draft", "pending_review"), ("pending_review", "published")]
    assert history.json()[2]["actor_id"] == str(reviewer.user_id)
    async with sessionmaker() as session:
        topics = (
            await session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.position))
        ).all()
    assert topics == ["listing.drafted", "listing.submitted", "listing.published"]


async def test_illegal_transitions_answer_409_with_the_allowed_states(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization, owner, _ = await _owner_with_result(factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    draft = await factory.listing(organization, state=ListingState.draft)
    closed = await factory.listing(organization, state=ListingState.closed)

    approve_draft = await client.post(f"/v1/listings/{draft.id}/approve", headers=reviewer.headers)
    withdraw_closed = await client.post(
        f"/v1/listings/{closed.id}/withdraw", json={"reason": "不卖了"}, headers=owner.headers
    )

    assert approve_draft.status_code == 409
    assert approve_draft.json()["allowed"] == ["pending_review", "withdrawn"]
    assert withdraw_closed.status_code == 409
    assert withdraw_closed.json()["allowed"] == []


async def test_only_reviewers_decide_and_rejection_needs_a_reason(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization, owner, _ = await _owner_with_result(factory)
    registrar = await factory.staff(PlatformRole.registrar)
    reviewer = await factory.staff(PlatformRole.reviewer)
    listing = await factory.listing(organization, state=ListingState.pending_review)

    by_owner = await client.post(f"/v1/listings/{listing.id}/approve", headers=owner.headers)
    by_registrar = await client.post(
        f"/v1/listings/{listing.id}/approve", headers=registrar.headers
    )
    bare = await client.post(f"/v1/listings/{listing.id}/reject", json={}, headers=reviewer.headers)
    rejected = await client.post(
        f"/v1/listings/{listing.id}/reject",
        json={"reason": "价格依据不足"},
        headers=reviewer.headers,
    )
    fixed = await client.put(
        f"/v1/listings/{listing.id}", json=_terms(window_days=20), headers=owner.headers
    )
    resubmitted = await client.post(f"/v1/listings/{listing.id}/submit", headers=owner.headers)

    assert by_owner.status_code == 403
    assert by_registrar.status_code == 403
    assert bare.status_code == 422
    assert rejected.json()["rejection_reason"] == "价格依据不足"
    assert fixed.json()["window_days"] == 20
    assert resubmitted.json()["state"] == "pending_review"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"mode": "negotiable"}, "body.price", "price_not_allowed"),
        ({"price": None}, "body.price", "price_required"),
        ({"price": {"amount": "0", "currency": "CNY"}}, "body.price", "price_required"),
        ({"transfer_type": "exclusive_licence"}, "body.licence_years", "licence_years_required"),
        ({"licence_years": 5}, "body.licence_years", "licence_years_not_allowed"),
        ({"window_days": 10}, "body.window_days", "window_too_short"),
        ({"window_days": 120}, "body.window_days", "window_too_long"),
    ],
)
async def test_bad_terms_name_field_and_rule(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    _, owner, result = await _owner_with_result(factory)

    response = await client.post(
        "/v1/listings",
        json=_terms(result_id=str(result.id), **overrides),
        headers={**owner.headers, "Accept-Language": "en"},
    )

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)
    if code == "window_too_short":
        assert "15 days" in error["message"]


async def test_enterprises_may_choose_a_shorter_window(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    _, owner, result = await _owner_with_result(factory, OrganizationKind.enterprise)

    response = await client.post(
        "/v1/listings", json=_terms(result_id=str(result.id), window_days=7), headers=owner.headers
    )

    assert response.status_code == 201


async def test_one_live_listing_per_result(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    _, owner, result = await _owner_with_result(factory)
    await client.post("/v1/listings", json=_terms(result_id=str(result.id)), headers=owner.headers)

    again = await client.post(
        "/v1/listings", json=_terms(result_id=str(result.id)), headers=owner.headers
    )

    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.result_id"


async def test_members_without_a_manager_role_cannot_list(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization, _, result = await _owner_with_result(factory)
    member = await factory.person(organization, MemberRole.member)

    response = await client.post(
        "/v1/listings", json=_terms(result_id=str(result.id)), headers=member.headers
    )

    assert response.status_code == 403


async def test_an_unverified_organization_cannot_submit(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization = await factory.organization(OrganizationKind.university, verified=False)
    owner = await factory.person(organization, MemberRole.owner)
    listing = await factory.listing(organization, state=ListingState.draft)

    response = await client.post(f"/v1/listings/{listing.id}/submit", headers=owner.headers)

    assert response.status_code == 409


async def test_drafts_are_private_and_published_listings_public(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization, owner, _ = await _owner_with_result(factory)
    draft = await factory.listing(organization, state=ListingState.draft)
    published = await factory.listing(organization)
    stranger = await factory.person(await factory.organization())

    assert (
        await client.get(f"/v1/listings/{draft.id}", headers=stranger.headers)
    ).status_code == 404
    assert (await client.get(f"/v1/listings/{draft.id}", headers=owner.headers)).status_code == 200
    assert (
        await client.get(f"/v1/listings/{published.id}", headers=stranger.headers)
    ).status_code == 200
    market = (await client.get("/v1/listings", headers=stranger.headers)).json()["items"]
    assert [item["id"] for item in market] == [str(published.id)]
    mine = (await client.get("/v1/listings", params={"mine": True}, headers=owner.headers)).json()[
        "items"
    ]
    assert len(mine) == 2


async def test_withdrawing_a_published_listing_needs_a_reason(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    organization, owner, _ = await _owner_with_result(factory)
    listing = await factory.listing(organization)

    bare = await client.post(f"/v1/listings/{listing.id}/withdraw", json={}, headers=owner.headers)
    withdrawn = await client.post(
        f"/v1/listings/{listing.id}/withdraw",
        json={"reason": "已与合作方另行签约"},
        headers=owner.headers,
    )

    assert bare.status_code == 422
    assert withdrawn.json()["state"] == "withdrawn"


# --- intents -------------------------------------------------------------------------------


async def _buyer(factory: MarketFactory, *, verified: bool = True) -> tuple[Organization, Person]:
    enterprise = await factory.organization(OrganizationKind.enterprise, verified=verified)
    return enterprise, await factory.person(enterprise, MemberRole.member)


async def test_an_enterprise_registers_intent_once(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university, _owner, _ = await _owner_with_result(factory)
    listing = await factory.listing(university)
    _, buyer = await _buyer(factory)

    first = await client.post(
        f"/v1/listings/{listing.id}/intents", json={"note": "拟用于产线升级"}, headers=buyer.headers
    )
    second = await client.post(f"/v1/listings/{listing.id}/intents", json={}, headers=buyer.headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "body.organization_id"


@pytest.mark.parametrize("who", ["university", "own", "unverified"])
async def test_intent_rules_name_the_field(
    client: httpx.AsyncClient, factory: MarketFactory, who: str
) -> None:
    seller = await factory.organization(OrganizationKind.enterprise)
    listing = await factory.listing(seller)
    if who == "university":
        caller = await factory.person(await factory.organization(OrganizationKind.university))
        code = "intent_enterprise_only"
    elif who == "own":
        caller = await factory.person(seller)
        code = "intent_own_listing"
    else:
        caller = (await _buyer(factory, verified=False))[1]
        code = "intent_verified_only"
    organization_id = next(
        iter((await client.get("/v1/me", headers=caller.headers)).json()["memberships"])
    )["organization_id"]

    response = await client.post(
        f"/v1/listings/{listing.id}/intents",
        json={"organization_id": organization_id},
        headers=caller.headers,
    )

    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (
        "body.organization_id",
        code,
    )


async def test_no_intent_after_the_window(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    university = await factory.organization(OrganizationKind.university)
    listing = await factory.listing(university)
    _, buyer = await _buyer(factory)
    assert listing.window_ends_at is not None

    clock.set(listing.window_ends_at)
    response = await client.post(
        f"/v1/listings/{listing.id}/intents", json={}, headers=buyer.headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


async def test_owners_see_intents_others_only_the_count_and_their_own(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university, owner, _ = await _owner_with_result(factory)
    listing = await factory.listing(university)
    first, first_person = await _buyer(factory)
    second, _ = await _buyer(factory)
    await factory.intent(listing, first)
    await factory.intent(listing, second)
    onlooker = (await _buyer(factory))[1]

    for_owner = await client.get(f"/v1/listings/{listing.id}/intents", headers=owner.headers)
    for_first = await client.get(f"/v1/listings/{listing.id}/intents", headers=first_person.headers)
    for_onlooker = await client.get(f"/v1/listings/{listing.id}/intents", headers=onlooker.headers)
    count = (await client.get(f"/v1/listings/{listing.id}", headers=onlooker.headers)).json()[
        "intent_count"
    ]

    assert len(for_owner.json()) == 2
    assert [i["organization_id"] for i in for_first.json()] == [str(first.id)]
    assert for_onlooker.json() == []
    assert count == 2


# --- the window closes -----------------------------------------------------------------------


async def _close_all(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock, listing_end: Any
) -> int:
    clock.set(listing_end)
    return await close_due_windows(sessionmaker, clock.now())


@pytest.mark.parametrize(
    ("mode", "intents", "outcome", "deals", "auctions"),
    [
        (ListingMode.fixed_price, 0, "expired", 0, 0),
        (ListingMode.fixed_price, 1, "to_contract", 1, 0),
        (ListingMode.fixed_price, 3, "to_auction", 0, 1),
        (ListingMode.negotiable, 1, "to_contract", 0, 0),
        (ListingMode.negotiable, 0, "expired", 0, 0),
        (ListingMode.auction, 0, "to_auction", 0, 1),
    ],
)
async def test_window_close_outcomes(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    mode: ListingMode,
    intents: int,
    outcome: str,
    deals: int,
    auctions: int,
) -> None:
    university, owner, _ = await _owner_with_result(factory)
    listing = await factory.listing(university, mode=mode)
    buyers = [(await _buyer(factory))[0] for _ in range(intents)]
    for buyer in buyers:
        await factory.intent(listing, buyer)

    assert await _close_all(sessionmaker, clock, listing.window_ends_at) == 1
    assert await _close_all(sessionmaker, clock, listing.window_ends_at) == 0  # idempotent

    body = (await client.get(f"/v1/listings/{listing.id}", headers=owner.headers)).json()
    assert (body["state"], body["outcome"]) == ("closed", outcome)
    async with sessionmaker() as session:
        deal_rows = (await session.scalars(select(Deal))).all()
        auction_rows = (await session.scalars(select(Auction))).all()
        eligible = set((await session.scalars(select(EligibleBidder.organization_id))).all())
    assert (len(deal_rows), len(auction_rows)) == (deals, auctions)
    if deals:
        assert deal_rows[0].buyer_organization_id == buyers[0].id
        assert deal_rows[0].price_fen == listing.price_fen
    if auctions and mode == ListingMode.fixed_price:
        assert eligible == {b.id for b in buyers}


async def test_nothing_closes_before_the_window_ends(
    factory: MarketFactory, clock: FrozenClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listing = await factory.listing(await factory.organization(OrganizationKind.university))
    assert listing.window_ends_at is not None

    assert await _close_all(sessionmaker, clock, listing.window_ends_at - timedelta(seconds=1)) == 0


@pytest.mark.parametrize("attempt", range(5))
async def test_intents_racing_the_close_give_exactly_one_outcome(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    attempt: int,
) -> None:
    university = await factory.organization(OrganizationKind.university)
    listing = await factory.listing(university)
    assert listing.window_ends_at is not None
    buyers = [await _buyer(factory) for _ in range(2)]
    # The requests are a second inside the window; the closers run at its end.
    clock.set(listing.window_ends_at - timedelta(seconds=1))

    async def close() -> object:
        async with sessionmaker() as session, session.begin():
            return await listings_service.close_publication_window(
                session,
                listing.id,
                now=listing.window_ends_at,  # type: ignore[arg-type]
            )

    answers = await asyncio.gather(
        *[
            client.post(f"/v1/listings/{listing.id}/intents", json={}, headers=p.headers)
            for _, p in buyers
        ],
        close(),
        close(),
    )

    outcomes = [a for a in answers[2:] if a is not None]
    accepted = [a for a in answers[:2] if isinstance(a, httpx.Response) and a.status_code == 201]
    refused = [a for a in answers[:2] if isinstance(a, httpx.Response) and a.status_code == 409]
    assert len(outcomes) == 1
    assert len(accepted) + len(refused) == 2
    expected = {0: "expired", 1: "to_contract", 2: "to_auction"}[len(accepted)]
    assert str(outcomes[0]) == expected
    async with sessionmaker() as session:
        closings = await session.scalar(
            select(func.count())
            .select_from(ListingTransition)
            .where(
                ListingTransition.listing_id == listing.id,
                ListingTransition.to_state == ListingState.closed,
            )
        )
        intents = await session.scalar(
            select(func.count()).select_from(Intent).where(Intent.listing_id == listing.id)
        )
    assert closings == 1
    assert intents == len(accepted)


async def test_publication_schedules_the_close_through_the_outbox(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from workers.app import worker_app

    organization = await factory.organization(OrganizationKind.university)
    listing = await factory.listing(organization, state=ListingState.pending_review)
    reviewer = await factory.staff(PlatformRole.reviewer)
    await client.post(f"/v1/listings/{listing.id}/approve", headers=reviewer.headers)

    async with worker_app.open_async():
        assert await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS) >= 1
        # A second relay of the same event (a crash before marking) must not fail.
        async with sessionmaker() as session, session.begin():
            await session.execute(text("UPDATE outbox SET published_at = NULL"))
        assert await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS) >= 1

    async with sessionmaker() as session:
        jobs = (
            await session.execute(
                text(
                    "SELECT task_name, args, scheduled_at FROM procrastinate_jobs WHERE task_name = 'listings:close_publication_window'"
                )
            )
        ).all()
    assert len(jobs) == 1
    assert jobs[0].args == {"listing_id": str(listing.id)}
    assert jobs[0].scheduled_at == window_end(clock.now(), listing.window_days)

"""Rules of the listings package: terms, review, publication window, intents, window close.

Contested rows are locked: registering an intent and closing the window both take the listing
row `FOR UPDATE`, so an intent either lands inside the window and counts, or is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts_queries
from app.accounts import service as accounts
from app.accounts.models import Organization, OrganizationKind, VerificationStatus
from app.auctions import queries as auctions_queries
from app.auctions import service as auctions
from app.core.audit import changed_fields
from app.core.auth import PlatformRole, Principal
from app.core.errors import (
    AlreadyExists,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import service as deals
from app.deals.models import DealSource
from app.listings import queries
from app.listings.models import (
    Intent,
    Listing,
    ListingMode,
    ListingOutcome,
    ListingState,
    ListingTransition,
)
from app.listings.queries import ListingView
from app.listings.schemas import ListingCreate, ListingTerms
from app.listings.states import EDITABLE, ON_MARKET, TRANSITIONS, can_move
from app.listings.windows import window_end
from app.results import queries as results_queries
from app.results import service as results


@dataclass(frozen=True)
class WindowRules:
    """Publication-window limits from the settings."""

    minimum_days: dict[str, int]
    maximum_days: int


# --- reading -----------------------------------------------------------------------------


async def _views(session: AsyncSession, listings: Sequence[Listing]) -> list[ListingView]:
    if not listings:
        return []
    ids = [listing.id for listing in listings]
    counts = dict(
        (
            await session.execute(
                select(Intent.listing_id, func.count())
                .where(Intent.listing_id.in_(ids))
                .group_by(Intent.listing_id)
            )
        ).all()
    )
    result_rows = await results_queries.results_by_id(
        session, [listing.result_id for listing in listings]
    )
    organizations = await accounts_queries.organizations_by_id(
        session, [listing.organization_id for listing in listings]
    )
    return [
        ListingView(
            listing,
            result_rows[listing.result_id],
            organizations[listing.organization_id],
            counts.get(listing.id, 0),
        )
        for listing in listings
    ]


async def list_listings(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    state: ListingState | None = None,
    organization_id: uuid.UUID | None = None,
    mine: bool = False,
) -> tuple[list[ListingView], str | None]:
    """Listings the caller may see, newest first; `mine` keeps their organizations' own."""
    query = select(Listing).where(queries.visible_for(principal))
    if mine:
        query = query.where(Listing.organization_id.in_(list(principal.memberships)))
    if state is not None:
        query = query.where(Listing.state == state)
    if organization_id is not None:
        query = query.where(Listing.organization_id == organization_id)
    rows, cursor = await paginate(session, query, params, key=Listing.created_at, row_id=Listing.id)
    return await _views(session, rows), cursor


async def list_transitions(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> Sequence[ListingTransition]:
    """A listing's history (its organization and platform staff)."""
    listing = await queries.listing_visible_to(session, principal, listing_id)
    if not principal.is_member_of(listing.organization_id) and not principal.platform_roles:
        raise NotFound()
    rows = await session.scalars(
        select(ListingTransition)
        .where(ListingTransition.listing_id == listing.id)
        .order_by(ListingTransition.sequence)
    )
    return rows.all()


# --- the owner's side ----------------------------------------------------------------------


def _check_window(organization: Organization, days: int, rules: WindowRules) -> None:
    minimum = accounts.minimum_window_days(organization.kind, rules.minimum_days)
    if days < minimum:
        raise ValidationFailed("body.window_days", "window_too_short", minimum=minimum)
    if days > rules.maximum_days:
        raise ValidationFailed("body.window_days", "window_too_long", maximum=rules.maximum_days)


def _terms_of(listing: Listing) -> dict[str, object]:
    """A listing's terms as its announcements state them."""
    return {
        "mode": listing.mode,
        "transfer_type": listing.transfer_type,
        "licence_years": listing.licence_years,
        "price_fen": listing.price_fen,
        "window_days": listing.window_days,
        "description": listing.description,
    }


def _apply_terms(listing: Listing, terms: ListingTerms) -> None:
    listing.mode = terms.mode
    listing.transfer_type = terms.transfer_type
    listing.licence_years = terms.licence_years
    listing.price_fen = terms.price.fen if terms.price is not None else None
    listing.currency = terms.price.currency if terms.price is not None else "CNY"
    listing.window_days = terms.window_days
    listing.description = terms.description


async def create_listing(
    session: AsyncSession,
    principal: Principal,
    data: ListingCreate,
    *,
    rules: WindowRules,
    now: datetime,
) -> ListingView:
    """Draft a listing of one of the organization's results (owner or admin).

    Raises NotFound, Forbidden, ValidationFailed(window_days), AlreadyExists(result_id) when
    the result already has a live listing.
    """
    result = await results.get_result_to_offer(session, principal, data.result_id)
    principal.require_manager(result.organization_id)
    organization = (await accounts_queries.organizations_by_id(session, [result.organization_id]))[
        result.organization_id
    ]
    _check_window(organization, data.window_days, rules)
    live = await session.scalar(
        select(Listing.id).where(
            Listing.result_id == result.id,
            Listing.state.in_([*ON_MARKET, ListingState.draft, ListingState.rejected]),
        )
    )
    if live is not None:
        raise AlreadyExists("body.result_id")
    listing = Listing(
        id=uuid.uuid4(),
        result_id=result.id,
        organization_id=result.organization_id,
        state=ListingState.draft,
        created_by_id=principal.user_id,
    )
    _apply_terms(listing, data)
    session.add(listing)
    await session.flush()
    _record(session, listing, None, ListingState.draft, principal, None, now)
    await record_event(
        session,
        "listing.drafted",
        {
            "listing_id": str(listing.id),
            "organization_id": str(listing.organization_id),
            "result_id": str(listing.result_id),
            **to_jsonable_python(_terms_of(listing)),
        },
    )
    await session.flush()
    await session.refresh(listing)
    return (await _views(session, [listing]))[0]


async def replace_terms(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    terms: ListingTerms,
    *,
    rules: WindowRules,
) -> ListingView:
    """Change a draft's or a rejected listing's terms (owner or admin)."""
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    principal.require_manager(listing.organization_id)
    if listing.state not in EDITABLE:
        raise _illegal(listing, ListingState.draft)
    organization = (await accounts_queries.organizations_by_id(session, [listing.organization_id]))[
        listing.organization_id
    ]
    _check_window(organization, terms.window_days, rules)
    held = _terms_of(listing)
    _apply_terms(listing, terms)
    after, before = changed_fields(held, _terms_of(listing))
    if after:
        await record_event(
            session,
            "listing.terms_replaced",
            {
                "listing_id": str(listing.id),
                "organization_id": str(listing.organization_id),
                **after,
            },
            before=before,
        )
    await session.flush()
    await session.refresh(listing)
    return (await _views(session, [listing]))[0]


def _illegal(listing: Listing, target: ListingState) -> InvalidState:
    allowed = sorted(TRANSITIONS[listing.state])
    return InvalidState(
        detail_code="detail.listing_transition",
        state=listing.state,
        target=target,
        extensions={"state": listing.state, "allowed": allowed},
    )


def _record(
    session: AsyncSession,
    listing: Listing,
    from_state: ListingState | None,
    to_state: ListingState,
    principal: Principal | None,
    reason: str | None,
    now: datetime,
    outcome: ListingOutcome | None = None,
) -> None:
    session.add(
        ListingTransition(
            listing_id=listing.id,
            from_state=from_state,
            to_state=to_state,
            outcome=outcome,
            actor_id=principal.user_id if principal else None,
            reason=reason,
            at=now,
        )
    )


async def _move(
    session: AsyncSession,
    listing: Listing,
    target: ListingState,
    principal: Principal | None,
    now: datetime,
    *,
    reason: str | None = None,
    outcome: ListingOutcome | None = None,
) -> None:
    if not can_move(listing.state, target):
        raise _illegal(listing, target)
    previous = listing.state
    listing.state = target
    _record(session, listing, previous, target, principal, reason, now, outcome)
    payload: dict[str, object] = {
        "listing_id": str(listing.id),
        "organization_id": str(listing.organization_id),
        "from": previous.value,
        "to": target.value,
    }
    if outcome is not None:
        payload["outcome"] = outcome.value
    if reason is not None:
        payload["reason"] = reason
    if listing.window_ends_at is not None:
        payload["window_ends_at"] = listing.window_ends_at.isoformat()
    topic = {
        ListingState.pending_review: "listing.submitted",
        ListingState.published: "listing.published",
        ListingState.rejected: "listing.rejected",
        ListingState.withdrawn: "listing.withdrawn",
        ListingState.closed: "listing.closed",
    }[target]
    await record_event(session, topic, payload, before={"state": previous})
    await session.flush()


async def submit_listing(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, *, now: datetime
) -> ListingView:
    """Send a draft (or a rejected listing, changed) to platform review (owner or admin).
    The organization must be verified."""
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    principal.require_manager(listing.organization_id)
    organization = (await accounts_queries.organizations_by_id(session, [listing.organization_id]))[
        listing.organization_id
    ]
    if organization.verification_status != VerificationStatus.verified:
        raise InvalidState(
            detail_code="detail.organization_state", state=organization.verification_status
        )
    await _move(session, listing, ListingState.pending_review, principal, now)
    return (await _views(session, [listing]))[0]


async def approve_listing(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, *, now: datetime
) -> ListingView:
    """A platform reviewer publishes a listing; its publication window opens now."""
    principal.require_platform_role(PlatformRole.reviewer)
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    if can_move(listing.state, ListingState.published):
        listing.published_at = now
        listing.window_ends_at = window_end(now, listing.window_days)
        listing.rejection_reason = None
    await _move(session, listing, ListingState.published, principal, now)
    return (await _views(session, [listing]))[0]


async def reject_listing(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> ListingView:
    """A platform reviewer sends a listing back with the reason."""
    principal.require_platform_role(PlatformRole.reviewer)
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    await _move(session, listing, ListingState.rejected, principal, now, reason=reason)
    listing.rejection_reason = reason
    await session.flush()
    return (await _views(session, [listing]))[0]


async def withdraw_listing(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    *,
    reason: str | None,
    now: datetime,
) -> ListingView:
    """The owner takes a listing off (owner or admin); a published one needs a reason, which
    the enterprises that registered intent will see."""
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    principal.require_manager(listing.organization_id)
    if listing.state == ListingState.published and not reason:
        raise ValidationFailed("body.reason", "missing")
    await _move(session, listing, ListingState.withdrawn, principal, now, reason=reason)
    return (await _views(session, [listing]))[0]


# --- intents -----------------------------------------------------------------------------


async def register_intent(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    note: str | None,
    now: datetime,
) -> tuple[Intent, Organization]:
    """Register an enterprise's intent to acquire (意向受让) during the publication window.

    Raises NotFound; ValidationFailed(organization_id) for a non-enterprise, an unverified one
    or the listing's own organization; InvalidState when the window is not open;
    AlreadyExists(organization_id) for a second intent.
    """
    # The listing row lock orders this against the window close: see the module docstring.
    listing = await queries.listing_visible_to(session, principal, listing_id, lock=True)
    organization = await accounts.acting_organization(
        session, principal, organization_id, default_kind=OrganizationKind.enterprise
    )
    if organization.kind != OrganizationKind.enterprise:
        raise ValidationFailed("body.organization_id", "intent_enterprise_only")
    if organization.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.organization_id", "intent_verified_only")
    if organization.id == listing.organization_id:
        raise ValidationFailed("body.organization_id", "intent_own_listing")
    if (
        listing.state != ListingState.published
        or listing.window_ends_at is None
        or now >= listing.window_ends_at
    ):
        raise InvalidState(
            detail_code="detail.window_closed",
            extensions={
                "window_ends_at": listing.window_ends_at.isoformat()
                if listing.window_ends_at
                else None
            },
        )
    taken = await session.scalar(
        select(Intent.id).where(
            Intent.listing_id == listing.id, Intent.organization_id == organization.id
        )
    )
    if taken is not None:
        raise AlreadyExists("body.organization_id")
    intent = Intent(
        listing_id=listing.id,
        organization_id=organization.id,
        user_id=principal.user_id,
        note=note,
        created_at=now,
    )
    session.add(intent)
    await session.flush()
    await record_event(
        session,
        "intent.registered",
        {
            "intent_id": str(intent.id),
            "listing_id": str(listing.id),
            "organization_id": str(organization.id),
            "seller_organization_id": str(listing.organization_id),
        },
    )
    return intent, organization


async def list_intents(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> list[tuple[Intent, Organization]]:
    """Intents on a listing: all of them for its organization and staff, otherwise only the
    caller's own (others see just the count on the listing)."""
    listing = await queries.listing_visible_to(session, principal, listing_id)
    query = select(Intent).where(Intent.listing_id == listing.id).order_by(Intent.created_at)
    if not principal.is_member_of(listing.organization_id) and not principal.platform_roles:
        query = query.where(Intent.organization_id.in_(list(principal.memberships)))
    intents = (await session.scalars(query)).all()
    organizations = await accounts_queries.organizations_by_id(
        session, [i.organization_id for i in intents]
    )
    return [(intent, organizations[intent.organization_id]) for intent in intents]


class OfferedResult(NamedTuple):
    """What tax rules need of a listing: the kind of result it offered and the licence term."""

    result_kind: str
    licence_years: int | None


def offered_result_of(values: Sequence[Any]) -> OfferedResult | None:
    """The offered result in the columns of `offered_results_select`, in their order (None when
    outer-joined to no listing)."""
    _, result_kind, licence_years = values
    return None if result_kind is None else OfferedResult(result_kind.value, licence_years)


# --- the window closes ---------------------------------------------------------------------


async def due_listings(
    session: AsyncSession, now: datetime, *, limit: int = 500
) -> list[uuid.UUID]:
    """Published listings whose window has ended (for the periodic sweep)."""
    rows = await session.scalars(
        select(Listing.id)
        .where(Listing.state == ListingState.published, Listing.window_ends_at <= now)
        .order_by(Listing.window_ends_at)
        .limit(limit)
    )
    return list(rows.all())


async def next_window_end(session: AsyncSession, after: datetime) -> datetime | None:
    """The first end of an open publication window later than `after`."""
    return await session.scalar(
        select(func.min(Listing.window_ends_at)).where(
            Listing.state == ListingState.published, Listing.window_ends_at > after
        )
    )


async def close_publication_window(
    session: AsyncSession, listing_id: uuid.UUID, *, now: datetime
) -> ListingOutcome | None:
    """Close a listing whose window has ended and act on the intents (idempotent).

    Fixed price: one intent opens a deal at the listed price; two or more turn the listing
    into an auction among the intent holders (挂牌转让 practice); none, expired. Negotiable:
    intents lead to negotiation (to_contract), none expire it. Auction mode: the auction opens
    to every verified organization. Returns None when there is nothing to do (not yet due,
    already closed or withdrawn).
    """
    listing = await session.scalar(
        select(Listing).where(Listing.id == listing_id).with_for_update()
    )
    if (
        listing is None
        or listing.state != ListingState.published
        or listing.window_ends_at is None
        or now < listing.window_ends_at
    ):
        return None
    holders = list(
        (
            await session.scalars(
                select(Intent.organization_id)
                .where(Intent.listing_id == listing.id)
                .order_by(Intent.created_at, Intent.id)
            )
        ).all()
    )
    price = Money(listing.price_fen, "CNY") if listing.price_fen is not None else None
    if listing.mode == ListingMode.negotiable:
        outcome = ListingOutcome.to_contract if holders else ListingOutcome.expired
    elif listing.mode == ListingMode.fixed_price and not holders:
        outcome = ListingOutcome.expired
    elif listing.mode == ListingMode.fixed_price and len(holders) == 1:
        assert price is not None
        await deals.open_deal(
            session,
            source=DealSource.fixed_price_listing,
            listing_id=listing.id,
            seller_organization_id=listing.organization_id,
            buyer_organization_id=holders[0],
            price=price,
            now=now,
        )
        outcome = ListingOutcome.to_contract
    else:
        # An auction listing opens to every verified organization; a fixed price with two or
        # more intents, to its intent holders only.
        assert price is not None
        await auctions.create_from_listing(
            session,
            listing_id=listing.id,
            seller_organization_id=listing.organization_id,
            start_price=price,
            intent_holders=None if listing.mode == ListingMode.auction else holders,
            now=now,
        )
        outcome = ListingOutcome.to_auction
    listing.outcome = outcome
    listing.closed_at = now
    await _move(session, listing, ListingState.closed, None, now, outcome=outcome)
    return outcome


# --- for the search index -------------------------------------------------------------------


def _indexable() -> ColumnElement[bool]:
    # On the market: published, or closed into an auction that is still to be run.
    return or_(
        Listing.state == ListingState.published,
        (Listing.state == ListingState.closed) & (Listing.outcome == ListingOutcome.to_auction),
    )


async def indexable_views(
    session: AsyncSession,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    after: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[ListingView]:
    """Listings that belong in the public search index: of `ids`, or a page of all by id."""
    query = select(Listing).where(_indexable()).order_by(Listing.id).limit(limit)
    if ids is not None:
        query = query.where(Listing.id.in_(list(ids)))
    if after is not None:
        query = query.where(Listing.id > after)
    return await _views(session, (await session.scalars(query)).all())


async def auction_states(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """listing id → the state of the auction it turned into, where there is one."""
    return await auctions_queries.states_by_listing(session, ids)


async def count_indexable(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Listing).where(_indexable())) or 0
    )

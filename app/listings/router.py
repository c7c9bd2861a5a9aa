"""HTTP routes of the listings package."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from app.accounts.models import Organization
from app.core.clock import Now
from app.core.db import Session
from app.core.errors import NotFound, problem_responses
from app.core.i18n import current_locale
from app.core.idempotency import IdempotencyOf
from app.core.money import Money
from app.core.pagination import Page, PageParams, page_params
from app.core.reads import Reads
from app.core.routing import planned
from app.listings import queries, service
from app.listings.auth import ListingRead, ListingReadOrPublic, ListingReview, ListingWrite
from app.listings.models import Intent, ListingState
from app.listings.queries import ListingView
from app.listings.schemas import (
    IntentCreate,
    IntentOut,
    ListingCreate,
    ListingOut,
    ListingTerms,
    ResultSummary,
    ReviewRejection,
    TransitionOut,
    Withdrawal,
)
from app.listings.states import TRANSITIONS
from app.results.taxonomy import label, stage_of
from search.documents import ListingDocument
from search.service import documents_for

router = APIRouter(
    prefix="/v1/listings", tags=["listings"], responses=problem_responses(401, 403, 422)
)
Pagination = Annotated[PageParams, Depends(page_params)]


async def _rules(request: Request) -> service.WindowRules:
    settings = request.app.state.settings
    return service.WindowRules(
        minimum_days=settings.publication_window_min_days,
        maximum_days=settings.publication_window_max_days,
    )


Rules = Annotated[service.WindowRules, Depends(_rules)]


def listing_out(view: ListingView) -> ListingOut:
    listing, result = view.listing, view.result
    return ListingOut(
        id=listing.id,
        organization_id=listing.organization_id,
        organization_name=view.organization.name,
        result=ResultSummary(
            id=result.id,
            title=result.title,
            kind=result.kind,
            ip_number=result.ip_number,
            field_code=result.field_code,
            field_label=label(result.field_code, current_locale.get()),
            trl=result.trl,
            stage=stage_of(result.trl),
            division_code=result.division_code,
        ),
        description=listing.description,
        mode=listing.mode,
        transfer_type=listing.transfer_type,
        licence_years=listing.licence_years,
        price=Money(listing.price_fen, "CNY") if listing.price_fen is not None else None,
        window_days=listing.window_days,
        state=listing.state,
        outcome=listing.outcome,
        next_states=sorted(TRANSITIONS[listing.state]),
        published_at=listing.published_at,
        window_ends_at=listing.window_ends_at,
        closed_at=listing.closed_at,
        rejection_reason=listing.rejection_reason,
        intent_count=view.intent_count,
        created_at=listing.created_at,
    )


@router.post(
    "",
    response_model=ListingOut,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a listing",
    responses=problem_responses(404, 409),
)
async def create_listing(
    session: Session,
    now: Now,
    rules: Rules,
    caller: ListingWrite,
    idempotency: IdempotencyOf,
    body: ListingCreate,
) -> ListingOut:
    """Offer one of your organization's results (owners and admins): mode, transfer type,
    price and publication window. The draft is private until a reviewer publishes it."""
    await idempotency.claim(caller)
    listing = listing_out(await service.create_listing(session, caller, body, rules=rules, now=now))
    return await idempotency.remember(listing, status_code=201)


@router.get("", response_model=Page[ListingOut], summary="List listings")
async def list_listings(
    session: Session,
    caller: ListingRead,
    pagination: Pagination,
    state: ListingState | None = None,
    organization_id: uuid.UUID | None = None,
    mine: bool = False,
) -> Page[ListingOut]:
    """Published and closed listings, plus your organization's own in every state."""
    views, cursor = await service.list_listings(
        session, caller, pagination, state=state, organization_id=organization_id, mine=mine
    )
    return Page(items=[listing_out(view) for view in views], next_cursor=cursor)


@planned(
    router,
    "/{listing_id}",
    methods=["GET"],
    response_model=ListingOut | ListingDocument,
    summary="Get a listing",
    responses=problem_responses(404),
    # Added to the scheme FastAPI declares: the empty requirement says "or no credential".
    openapi_extra={"security": [{}]},
)
async def get_listing(
    request: Request, reads: Reads, caller: ListingReadOrPublic, listing_id: uuid.UUID
) -> ListingOut | ListingDocument:
    """A listing (挂牌). Without credentials, a listing on the market is a public notice (公示):
    its public document, exactly as search shows it (`ListingDocument`: the result's public
    fields, the window's dates, the auction's state); anything else is 404. With credentials
    (`listings:read`), the listing as the caller may see it (`ListingOut`): published ones, and
    drafts and pending ones to their organization and reviewers."""
    if caller is None:
        async with request.app.state.sessionmaker() as session:
            public = await documents_for(session, [listing_id])
        if not public:
            raise NotFound()
        return public[0]
    return listing_out(await queries.listing_for(reads, caller, listing_id))


@router.put(
    "/{listing_id}",
    response_model=ListingOut,
    summary="Replace a listing's terms",
    responses=problem_responses(404, 409),
)
async def replace_terms(
    session: Session, rules: Rules, caller: ListingWrite, listing_id: uuid.UUID, body: ListingTerms
) -> ListingOut:
    """Drafts and rejected listings only."""
    return listing_out(await service.replace_terms(session, caller, listing_id, body, rules=rules))


@router.get(
    "/{listing_id}/transitions",
    response_model=list[TransitionOut],
    summary="A listing's history",
    responses=problem_responses(404),
)
async def list_transitions(
    session: Session, caller: ListingRead, listing_id: uuid.UUID
) -> list[TransitionOut]:
    """Every state change with who, when and why (its organization and platform staff)."""
    rows = await service.list_transitions(session, caller, listing_id)
    return [
        TransitionOut(
            from_state=row.from_state,
            to_state=row.to_state,
            outcome=row.outcome,
            actor_id=row.actor_id,
            reason=row.reason,
            at=row.at,
        )
        for row in rows
    ]


@router.post(
    "/{listing_id}/submit",
    response_model=ListingOut,
    summary="Submit for review",
    responses=problem_responses(404, 409),
)
async def submit_listing(
    session: Session, now: Now, caller: ListingWrite, listing_id: uuid.UUID
) -> ListingOut:
    """Send a draft or a corrected rejected listing to the platform's reviewers."""
    return listing_out(await service.submit_listing(session, caller, listing_id, now=now))


@router.post(
    "/{listing_id}/approve",
    response_model=ListingOut,
    summary="Approve and publish",
    responses=problem_responses(404, 409),
)
async def approve_listing(
    session: Session, now: Now, caller: ListingReview, listing_id: uuid.UUID
) -> ListingOut:
    """Platform reviewers publish a listing; its publication window (公示期) opens now."""
    return listing_out(await service.approve_listing(session, caller, listing_id, now=now))


@router.post(
    "/{listing_id}/reject",
    response_model=ListingOut,
    summary="Reject",
    responses=problem_responses(404, 409),
)
async def reject_listing(
    session: Session, now: Now, caller: ListingReview, listing_id: uuid.UUID, body: ReviewRejection
) -> ListingOut:
    """Platform reviewers send a listing back with the reason."""
    return listing_out(
        await service.reject_listing(session, caller, listing_id, reason=body.reason, now=now)
    )


@router.post(
    "/{listing_id}/withdraw",
    response_model=ListingOut,
    summary="Withdraw",
    responses=problem_responses(404, 409),
)
async def withdraw_listing(
    session: Session, now: Now, caller: ListingWrite, listing_id: uuid.UUID, body: Withdrawal
) -> ListingOut:
    """Take a listing off the market (owners and admins); a published one needs a reason."""
    return listing_out(
        await service.withdraw_listing(session, caller, listing_id, reason=body.reason, now=now)
    )


def _intent_out(intent: Intent, organization: Organization) -> IntentOut:
    return IntentOut(
        id=intent.id,
        listing_id=intent.listing_id,
        organization_id=organization.id,
        organization_name=organization.name,
        note=intent.note,
        created_at=intent.created_at,
    )


@router.post(
    "/{listing_id}/intents",
    response_model=IntentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register intent to acquire",
    responses=problem_responses(404, 409),
)
async def register_intent(
    session: Session,
    now: Now,
    caller: ListingWrite,
    idempotency: IdempotencyOf,
    listing_id: uuid.UUID,
    body: IntentCreate,
) -> IntentOut:
    """A verified enterprise registers intent (意向受让) during the publication window, once."""
    await idempotency.claim(caller)
    intent, organization = await service.register_intent(
        session, caller, listing_id, organization_id=body.organization_id, note=body.note, now=now
    )
    return await idempotency.remember(_intent_out(intent, organization), status_code=201)


@router.get(
    "/{listing_id}/intents",
    response_model=list[IntentOut],
    summary="Intents on a listing",
    responses=problem_responses(404),
)
async def list_intents(
    session: Session, caller: ListingRead, listing_id: uuid.UUID
) -> list[IntentOut]:
    """All intents for the listing's organization; your own for everyone else."""
    rows = await service.list_intents(session, caller, listing_id)
    return [_intent_out(intent, organization) for intent, organization in rows]

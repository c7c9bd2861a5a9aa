"""Rules of the demands package: posting needs, matching them to listings, saved searches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import OrganizationKind, VerificationStatus
from app.core.auth import Principal
from app.core.errors import NotFound, ValidationFailed
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.demands.models import Demand, DemandState, SavedSearch
from app.demands.schemas import DemandCreate, SavedSearchCreate, SearchFilters
from app.results.taxonomy import fields
from search.backend import Filters, SearchAnswer, SearchBackend, SearchQuery
from search.documents import ListingDocument
from search.matching import document_matches, shared_terms


async def post_demand(session: AsyncSession, principal: Principal, data: DemandCreate) -> Demand:
    """Post a technology need for a verified enterprise the caller belongs to.

    Raises NotFound (not a member), ValidationFailed(organization_id) for another kind of
    organization or an unverified one.
    """
    principal.require_member(data.organization_id)
    organization = (await accounts.organizations_by_id(session, [data.organization_id]))[
        data.organization_id
    ]
    if organization.kind != OrganizationKind.enterprise:
        raise ValidationFailed("body.organization_id", "demand_enterprise_only")
    if organization.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.organization_id", "intent_verified_only")
    demand = Demand(
        organization_id=data.organization_id,
        title=data.title,
        description=data.description,
        field_code=data.field_code,
        budget_min_fen=data.budget_min.fen if data.budget_min else None,
        budget_max_fen=data.budget_max.fen if data.budget_max else None,
        division_code=data.division_code,
        deadline=data.deadline,
        created_by_id=principal.user_id,
    )
    session.add(demand)
    await session.flush()
    await record_event(
        session,
        "demand.posted",
        {"demand_id": str(demand.id), "organization_id": str(demand.organization_id)},
    )
    await session.refresh(demand)
    return demand


async def get_demand_for(
    session: AsyncSession, principal: Principal, demand_id: uuid.UUID
) -> Demand:
    """An open demand (the market sees them), or any of the caller's organization's."""
    demand = await session.scalar(
        select(Demand).where(
            Demand.id == demand_id,
            or_(
                Demand.state == DemandState.open,
                Demand.organization_id.in_(list(principal.memberships)),
            ),
        )
    )
    if demand is None:
        raise NotFound()
    return demand


async def list_demands(
    session: AsyncSession, principal: Principal, params: PageParams, *, field: str | None = None
) -> tuple[Sequence[Demand], str | None]:
    query = select(Demand).where(
        or_(
            Demand.state == DemandState.open,
            Demand.organization_id.in_(list(principal.memberships)),
        )
    )
    if field:
        query = query.where(
            (Demand.field_code == field) | Demand.field_code.startswith(field + ".")
        )
    return await paginate(session, query, params, key=Demand.created_at, row_id=Demand.id)


async def match_demand(
    session: AsyncSession,
    principal: Principal,
    backend: SearchBackend,
    demand_id: uuid.UUID,
    *,
    limit: int,
) -> SearchAnswer:
    """Published listings ranked for a demand: in its technology field, by how many of the
    words of its title and description they share (and how prominently)."""
    demand = await get_demand_for(session, principal, demand_id)
    parent = fields()[demand.field_code].parent or demand.field_code
    return await backend.search(
        SearchQuery(
            text=f"{demand.title} {demand.description}"[:200],
            filters=Filters(field=parent),
            match="any",
            limit=limit,
        )
    )


def filters_from(saved: SearchFilters) -> Filters:
    return Filters(
        field=saved.field,
        kind=saved.kind.value if saved.kind else None,
        transfer_type=saved.transfer_type.value if saved.transfer_type else None,
        mode=saved.mode.value if saved.mode else None,
        region=saved.region,
        price_min_fen=saved.price_min.fen if saved.price_min else None,
        price_max_fen=saved.price_max.fen if saved.price_max else None,
        stage=saved.maturity,
    )


async def save_search(
    session: AsyncSession, principal: Principal, data: SavedSearchCreate
) -> SavedSearch:
    """Keep a search; the person is told (outbox event) when a new listing matches it."""
    assert principal.user_id is not None
    saved = SavedSearch(
        user_id=principal.user_id,
        name=data.name,
        query=data.q,
        filters=data.filters.model_dump(mode="json", exclude_none=True),
    )
    session.add(saved)
    await session.flush()
    await session.refresh(saved)
    return saved


async def list_saved_searches(session: AsyncSession, principal: Principal) -> Sequence[SavedSearch]:
    rows = await session.scalars(
        select(SavedSearch)
        .where(SavedSearch.user_id == principal.user_id)
        .order_by(SavedSearch.created_at)
    )
    return rows.all()


async def delete_saved_search(
    session: AsyncSession, principal: Principal, saved_id: uuid.UUID
) -> None:
    saved = await session.get(SavedSearch, saved_id)
    if saved is None or saved.user_id != principal.user_id:
        raise NotFound()
    await session.delete(saved)


async def notify_saved_searches(session: AsyncSession, document: ListingDocument) -> int:
    """Record a `saved_search.matched` event for every saved search a new listing matches."""
    matched = 0
    for saved in (await session.scalars(select(SavedSearch))).all():
        filters = filters_from(SearchFilters.model_validate(saved.filters))
        if document_matches(document, saved.query, filters):
            matched += 1
            await record_event(
                session,
                "saved_search.matched",
                {
                    "saved_search_id": str(saved.id),
                    "user_id": str(saved.user_id),
                    "listing_id": str(document.id),
                },
            )
    return matched


DEMAND_MATCH_TERMS = 2
"""A new listing answers a demand when it shares at least this many of the demand's words
(all of them, for a demand of fewer words) within the demand's technology field."""


async def notify_matching_demands(session: AsyncSession, document: ListingDocument) -> int:
    """Record a `demand.matched` event for every open demand a newly published listing answers:
    the same technology field (or its parent), and enough of the demand's words."""
    field = document.field_parent or document.field_code
    demands = await session.scalars(
        select(Demand).where(
            Demand.state == DemandState.open,
            or_(Demand.field_code == field, Demand.field_code.startswith(f"{field}.")),
        )
    )
    matched = 0
    for demand in demands.all():
        shared, terms = shared_terms(document, f"{demand.title} {demand.description}"[:200])
        if terms and shared >= min(DEMAND_MATCH_TERMS, terms):
            matched += 1
            await record_event(
                session,
                "demand.matched",
                {
                    "demand_id": str(demand.id),
                    "organization_id": str(demand.organization_id),
                    "listing_id": str(document.id),
                },
            )
    return matched

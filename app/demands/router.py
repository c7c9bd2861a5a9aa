"""HTTP routes of the demands package."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.money import Money
from app.core.pagination import Page, PageParams, page_params
from app.demands import service
from app.demands.auth import DemandRead, DemandWrite, SavedSearchManage
from app.demands.models import Demand, SavedSearch
from app.demands.schemas import (
    DemandCreate,
    DemandOut,
    SavedSearchCreate,
    SavedSearchOut,
    SearchFilters,
)
from search.backend import SearchUnavailable
from search.router import (
    SearchEngine,
    SearchHit,
    SearchUnavailableError,
    hits_json,
    json_answer,
)

router = APIRouter(prefix="/v1", tags=["demands"], responses=problem_responses(401, 403, 422))
Pagination = Annotated[PageParams, Depends(page_params)]


def _demand_out(demand: Demand) -> DemandOut:
    return DemandOut(
        id=demand.id,
        organization_id=demand.organization_id,
        title=demand.title,
        description=demand.description,
        field_code=demand.field_code,
        budget_min=Money(demand.budget_min_fen) if demand.budget_min_fen is not None else None,
        budget_max=Money(demand.budget_max_fen) if demand.budget_max_fen is not None else None,
        division_code=demand.division_code,
        deadline=demand.deadline,
        state=demand.state,
        created_at=demand.created_at,
    )


@router.post(
    "/demands",
    response_model=DemandOut,
    status_code=status.HTTP_201_CREATED,
    summary="Post a technology need",
    responses=problem_responses(404),
)
async def post_demand(
    session: Session, caller: DemandWrite, idempotency: IdempotencyOf, body: DemandCreate
) -> DemandOut:
    """A verified enterprise describes the technology it needs (技术需求)."""
    await idempotency.claim(caller)
    demand = _demand_out(await service.post_demand(session, caller, body))
    return await idempotency.remember(demand, status_code=201)


@router.get("/demands", response_model=Page[DemandOut], summary="List demands")
async def list_demands(
    session: Session, caller: DemandRead, pagination: Pagination, field: str | None = None
) -> Page[DemandOut]:
    """Open technology needs (技术需求), newest first; your organization's closed ones too."""
    rows, cursor = await service.list_demands(session, caller, pagination, field=field)
    return Page(items=[_demand_out(row) for row in rows], next_cursor=cursor)


@router.get(
    "/demands/{demand_id}",
    response_model=DemandOut,
    summary="Get a demand",
    responses=problem_responses(404),
)
async def get_demand(session: Session, caller: DemandRead, demand_id: uuid.UUID) -> DemandOut:
    """One technology need. A closed one is visible to its organization only."""
    return _demand_out(await service.get_demand_for(session, caller, demand_id))


@router.get(
    "/demands/{demand_id}/matches",
    response_model=list[SearchHit],
    summary="Listings that match a demand",
    responses=problem_responses(404) | {503: {"description": "Search is down"}},
)
async def match_demand(
    session: Session,
    caller: DemandRead,
    backend: SearchEngine,
    demand_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """Published listings in the demand's field, best first."""
    try:
        answer = await service.match_demand(session, caller, backend, demand_id, limit=limit)
    except SearchUnavailable:
        raise SearchUnavailableError(headers={"Retry-After": "30"}) from None
    return json_answer(hits_json(answer.hits))


def _saved_out(saved: SavedSearch) -> SavedSearchOut:
    return SavedSearchOut(
        id=saved.id,
        name=saved.name,
        q=saved.query,
        filters=SearchFilters.model_validate(saved.filters),
        created_at=saved.created_at,
    )


@router.post(
    "/saved-searches",
    response_model=SavedSearchOut,
    status_code=status.HTTP_201_CREATED,
    summary="Save a search",
    tags=["search"],
)
async def save_search(
    session: Session, caller: SavedSearchManage, idempotency: IdempotencyOf, body: SavedSearchCreate
) -> SavedSearchOut:
    """You will be told (event `saved_search.matched`) when a newly published listing matches."""
    await idempotency.claim(caller)
    saved = _saved_out(await service.save_search(session, caller, body))
    return await idempotency.remember(saved, status_code=201)


@router.get(
    "/saved-searches",
    response_model=list[SavedSearchOut],
    summary="Your saved searches",
    tags=["search"],
)
async def list_saved_searches(session: Session, caller: SavedSearchManage) -> list[SavedSearchOut]:
    """Your saved searches, oldest first."""
    return [_saved_out(saved) for saved in await service.list_saved_searches(session, caller)]


@router.delete(
    "/saved-searches/{saved_search_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a saved search",
    tags=["search"],
    responses=problem_responses(404),
)
async def delete_saved_search(
    session: Session, caller: SavedSearchManage, saved_search_id: uuid.UUID
) -> Response:
    """Stop being told about new matches of a saved search."""
    await service.delete_saved_search(session, caller, saved_search_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""HTTP routes of the tax package."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params
from app.tax import rules, service
from app.tax.auth import TaxRead, TaxWrite
from app.tax.models import Filing, FilingKind, FilingState
from app.tax.schemas import FilingOut, FilingRequest, RuleSetOut

router = APIRouter(prefix="/v1/tax", tags=["tax"], responses=problem_responses(401, 403, 404, 422))
Pagination = Annotated[PageParams, Depends(page_params)]


def filing_out(filing: Filing) -> FilingOut:
    return FilingOut(
        id=filing.id,
        taxpayer_organization_id=filing.taxpayer_organization_id,
        kind=filing.kind,
        period=filing.period,
        version=filing.version,
        state=filing.state,
        content_sha256=filing.content_sha256,
        rule_set_version=filing.rule_set_version,
        amends_id=filing.amends_id,
        computed_at=filing.computed_at,
        submitted_at=filing.submitted_at,
        content=filing.content,
    )


@router.get("/policies", response_model=list[RuleSetOut], summary="Tax rule sets")
async def list_rule_sets(caller: TaxRead) -> list[RuleSetOut]:
    """Every version of every rule set, with its parameters and legal citations."""
    return [RuleSetOut.model_validate(r.model_dump()) for r in rules.rule_sets()]


@router.post(
    "/filings",
    response_model=FilingOut,
    status_code=status.HTTP_201_CREATED,
    summary="Compute a filing now",
)
async def request_filing(
    session: Session, now: Now, caller: TaxWrite, body: FilingRequest
) -> FilingOut:
    """Compute (or recompute) your organization's filing of a closed period. Unchanged inputs
    give the same filing; changes after submission give an amendment. The worker does this by
    itself when contracts are registered and money arrives."""
    filing = await service.request_filing(
        session, caller, taxpayer_id=body.taxpayer_id, kind=body.kind, period=body.period, now=now
    )
    return filing_out(filing)


@router.get("/filings", response_model=Page[FilingOut], summary="List filings")
async def list_filings(
    session: Session,
    caller: TaxRead,
    pagination: Pagination,
    taxpayer_id: uuid.UUID | None = None,
    kind: FilingKind | None = None,
    period: str | None = None,
    state: FilingState | None = None,
) -> Page[FilingOut]:
    """Your organizations' filings (finance staff: everyone's), newest first."""
    rows, cursor = await service.list_filings(
        session, caller, pagination, taxpayer_id=taxpayer_id, kind=kind, period=period, state=state
    )
    return Page(items=[filing_out(f) for f in rows], next_cursor=cursor)


@router.get("/filings/{filing_id}", response_model=FilingOut, summary="Get a filing")
async def get_filing(session: Session, caller: TaxRead, filing_id: uuid.UUID) -> FilingOut:
    """A filing with its lines, totals, exclusions and citations."""
    return filing_out(await service.get_filing_for(session, caller, filing_id))

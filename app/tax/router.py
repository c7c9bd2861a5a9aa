"""HTTP routes of the tax package."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.i18n import current_locale
from app.core.idempotency import IdempotencyOf
from app.core.pagination import Page, PageParams, page_params
from app.tax import evidence, exports, rules, service, submission
from app.tax.auth import TaxRead, TaxWrite
from app.tax.models import Filing, FilingKind, FilingState
from app.tax.schemas import FilingDecision, FilingOut, FilingRequest, RuleSetOut

router = APIRouter(prefix="/v1/tax", tags=["tax"], responses=problem_responses(401, 403, 404, 422))
evidence_router = APIRouter(
    prefix="/v1/deals", tags=["tax"], responses=problem_responses(401, 403, 404, 409, 422)
)


@evidence_router.get(
    "/{deal_id}/tax-evidence",
    response_class=Response,
    summary="The seller's kept papers for a contract and tax year (留存备查, ZIP)",
    responses={200: {"content": {"application/zip": {}}, "description": "留存备查资料"}},
)
async def tax_evidence(
    session: Session,
    now: Now,
    caller: TaxRead,
    deal_id: uuid.UUID,
    year: Annotated[int, Query(ge=2000, le=2100, examples=[2026])],
) -> Response:
    """For the seller of a registered contract (and platform staff): one ZIP with the contract
    (`contract.pdf`), its registration certificate (`certificate.pdf`) and the year's
    technology-transfer income from it as the annual filing computes it (`income-<year>.xlsx`:
    revenue, costs, income, whether it counts, exclusions, citations) — the papers a taxpayer
    keeps for the tax office (自行判别、申报享受、相关资料留存备查, 国家税务总局公告2018年第23号).
    A year under way counts up to now."""
    name, bundle = await evidence.tax_evidence(session, caller, deal_id, year, now=now)
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


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
        receipt=filing.receipt,
        rejection_reason=filing.rejection_reason,
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
    session: Session, now: Now, caller: TaxWrite, idempotency: IdempotencyOf, body: FilingRequest
) -> FilingOut:
    """Compute (or recompute) your organization's filing of a closed period. Unchanged inputs
    give the same filing; changes after submission give an amendment. The worker does this by
    itself when contracts are registered and money arrives."""
    await idempotency.claim(caller)
    filing = await service.request_filing(
        session, caller, taxpayer_id=body.taxpayer_id, kind=body.kind, period=body.period, now=now
    )
    return await idempotency.remember(filing_out(filing), status_code=201)


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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


@router.get(
    "/filings/{filing_id}",
    response_model=FilingOut,
    summary="Get a filing (JSON, XLSX or PDF)",
    responses={200: {"content": {XLSX: {}, PDF: {}}}},
)
async def get_filing(
    request: Request, session: Session, caller: TaxRead, filing_id: uuid.UUID
) -> Response | FilingOut:
    """A filing with its lines, totals, exclusions and citations: JSON by default,
    `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` for XLSX,
    `Accept: application/pdf` for PDF (Chinese font embedded)."""
    filing = await service.get_filing_for(session, caller, filing_id)
    accept = request.headers.get("accept", "")
    name = f"filing-{filing.kind.value}-{filing.period}-v{filing.version}"
    if XLSX in accept:
        return Response(
            exports.filing_xlsx(
                filing.content, version=filing.version, locale=current_locale.get()
            ),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if PDF in accept:
        return Response(
            exports.filing_pdf(
                filing.content,
                version=filing.version,
                computed_at=filing.computed_at,
                locale=current_locale.get(),
            ),
            media_type=PDF,
            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
        )
    return filing_out(filing)


def _endpoint(request: Request) -> submission.FilingEndpoint:
    settings = request.app.state.settings
    token = settings.tax_filing_token
    return submission.FilingEndpoint(
        url=settings.tax_filing_url, token=token.get_secret_value() if token else None
    )


@router.post(
    "/filings/{filing_id}/submit",
    response_model=FilingOut,
    summary="Submit a filing",
    responses=problem_responses(409, 503),
)
async def submit_filing(
    request: Request, session: Session, now: Now, caller: TaxWrite, filing_id: uuid.UUID
) -> FilingOut:
    """Send the filing to the configured filing endpoint (retried with backoff under one
    submission id), or record a manual-filing receipt when none is configured. Submitting a
    submitted filing again changes nothing."""
    filing = await submission.submit_filing(
        session,
        caller,
        filing_id,
        endpoint=_endpoint(request),
        http=request.app.state.http,
        now=now,
    )
    return filing_out(filing)


@router.post(
    "/filings/{filing_id}/decision",
    response_model=FilingOut,
    summary="Record the tax office's decision (platform finance)",
    responses=problem_responses(409),
)
async def record_decision(
    session: Session, now: Now, caller: TaxWrite, filing_id: uuid.UUID, body: FilingDecision
) -> FilingOut:
    """Accepted, or rejected with the reason; a rejected filing can be recomputed and
    submitted again."""
    filing = await submission.record_decision(
        session,
        caller,
        filing_id,
        accepted=body.decision == "accepted",
        reason=body.reason,
        now=now,
    )
    return filing_out(filing)

"""Submitting a filing to the tax authority's endpoint (when one is configured) and recording
its decision; each submitted version is kept, an amendment supersedes it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import PlatformRole, Principal
from app.core.errors import DomainError, InvalidState, ValidationFailed
from app.core.outbox import record_event
from app.tax.models import Filing, FilingState
from app.tax.service import get_filing_for

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FilingEndpoint:
    """Where filings go (None: filed by hand, a receipt is recorded)."""

    url: str | None
    token: str | None = None
    attempts: int = 3
    backoff_seconds: float = 0.5


class FilingEndpointUnavailable(DomainError):
    status, code = 503, "filing_endpoint_unavailable"
    detail_code = "detail.filing_endpoint_unavailable"


async def _send(
    http: httpx.AsyncClient, endpoint: FilingEndpoint, filing: Filing
) -> httpx.Response | None:
    """POST the filing; retry transport errors and 5xx with exponential backoff. The
    submission id is the idempotency key, so a retry the endpoint already took is not filed
    twice. None when every attempt failed."""
    assert endpoint.url is not None
    headers = {"Idempotency-Key": str(filing.submission_id)}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    body = {
        "submission_id": str(filing.submission_id),
        "kind": filing.kind.value,
        "period": filing.period,
        "version": filing.version,
        "sha256": filing.content_sha256,
        "content": filing.content,
    }
    for attempt in range(endpoint.attempts):
        if attempt:
            await asyncio.sleep(endpoint.backoff_seconds * 2 ** (attempt - 1))
        try:
            response = await http.post(endpoint.url, json=body, headers=headers)
        except httpx.TransportError as error:
            logger.warning("filing_submission_failed", attempt=attempt + 1, error=str(error))
            continue
        if response.status_code < 500:
            return response
        logger.warning("filing_submission_failed", attempt=attempt + 1, status=response.status_code)
    return None


async def submit_filing(
    session: AsyncSession,
    principal: Principal,
    filing_id: uuid.UUID,
    *,
    endpoint: FilingEndpoint,
    http: httpx.AsyncClient,
    now: datetime,
) -> Filing:
    """Submit a ready (or rejected and recomputed) filing: to the configured endpoint, or as a
    manual filing with a recorded receipt. Submitting again is a no-op. The endpoint's answer
    sets the state: accepted, submitted (received, decision pending) or rejected with its
    reason. Raises NotFound, Forbidden, InvalidState (an amended filing),
    FilingEndpointUnavailable after the retries (the submission id is kept for the next try)."""
    filing = await get_filing_for(session, principal, filing_id)
    if not principal.has_platform_role(PlatformRole.finance):
        principal.require_manager(filing.taxpayer_organization_id)
    await session.refresh(filing, with_for_update=True)
    if filing.state in {FilingState.submitted, FilingState.accepted}:
        return filing
    if filing.state not in {FilingState.ready, FilingState.rejected}:
        raise InvalidState(detail_code="detail.filing_state", state=filing.state.value)
    filing.submission_id = filing.submission_id or uuid.uuid4()
    if endpoint.url is None:
        filing.receipt = {
            "manual": True,
            "reference": f"MANUAL-{filing.submission_id.hex[:12].upper()}",
        }
        filing.state = FilingState.submitted
    else:
        response = await _send(http, endpoint, filing)
        if response is None:
            raise FilingEndpointUnavailable(keep_changes=True)
        answer = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {"text": response.text[:500]}
        )
        filing.receipt = answer
        if response.is_success:
            accepted = answer.get("status") == "accepted"
            filing.state = FilingState.accepted if accepted else FilingState.submitted
        else:
            filing.state = FilingState.rejected
            filing.rejection_reason = str(answer.get("reason") or answer)[:500]
    filing.submitted_at = now
    await record_event(
        session,
        f"filing.{filing.state.value}",
        {"filing_id": str(filing.id), "kind": filing.kind.value, "period": filing.period},
    )
    return filing


async def record_decision(
    session: AsyncSession,
    principal: Principal,
    filing_id: uuid.UUID,
    *,
    accepted: bool,
    reason: str | None,
    now: datetime,
) -> Filing:
    """Finance staff record the tax office's decision on a submitted filing (manual filings, or
    an endpoint that decides later). Raises Forbidden, NotFound, InvalidState,
    ValidationFailed(reason) for a rejection without one."""
    principal.require_platform_role(PlatformRole.finance)
    filing = await get_filing_for(session, principal, filing_id)
    await session.refresh(filing, with_for_update=True)
    if filing.state != FilingState.submitted:
        raise InvalidState(detail_code="detail.filing_state", state=filing.state.value)
    if not accepted and not reason:
        raise ValidationFailed("body.reason", "missing")
    filing.state = FilingState.accepted if accepted else FilingState.rejected
    filing.rejection_reason = None if accepted else reason
    await record_event(
        session,
        f"filing.{filing.state.value}",
        {"filing_id": str(filing.id), "kind": filing.kind.value, "period": filing.period},
    )
    return filing

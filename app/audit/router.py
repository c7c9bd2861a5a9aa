"""HTTP routes of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.audit.queries import AuditFilters, audit_events
from app.audit.schemas import AuditEventOut
from app.core.auth import Authenticator, Principal
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/audit-events", tags=["audit"], responses=problem_responses(401))

AuditRead = Annotated[
    Principal, Depends(Authenticator(scopes={"organizations:read"}, kinds={"user"}))
]


@router.get(
    "",
    response_model=Page[AuditEventOut],
    summary="The audit trail",
    responses=problem_responses(403, 404, 422),
)
async def list_audit_events(
    session: Session,
    caller: AuditRead,
    params: Annotated[PageParams, Depends(page_params)],
    organization_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=100, examples=["listing.published"])] = None,
    object_type: Annotated[str | None, Query(max_length=50, examples=["listing"])] = None,
    object_id: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEventOut]:
    """Every state change a person or an API key made — review decisions, registrations,
    payments and refunds, payouts, claims, roles, memberships, sandbox moves … — with its
    actor, organization, the fields it announced, request id and address, newest first.
    Platform admins (with the `platform` scope) see all; an organization's owner sees its own
    by naming `organization_id`. `since` inclusive, `until` exclusive."""
    rows, cursor = await audit_events(
        session,
        caller,
        AuditFilters(organization_id, actor_user_id, action, object_type, object_id, since, until),
        params,
    )
    return Page(items=[AuditEventOut.model_validate(row) for row in rows], next_cursor=cursor)

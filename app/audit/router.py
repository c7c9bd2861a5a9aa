"""HTTP routes of the audit trail."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.audit.queries import AuditFilters, audit_events, audit_period
from app.audit.schemas import AuditEventOut
from app.core.audit import AuditEvent
from app.core.auth import Authenticator, Principal
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/v1/audit-events", tags=["audit"], responses=problem_responses(401))

AuditRead = Annotated[
    Principal, Depends(Authenticator(scopes={"organizations:read"}, kinds={"user"}))
]


CSV = "text/csv"
COLUMNS = (
    "at",
    "actor_user_id",
    "actor_api_key_id",
    "organization_id",
    "action",
    "object_type",
    "object_id",
    "changes",
    "before",
    "request_id",
    "address",
)


@router.get(
    "",
    response_model=Page[AuditEventOut],
    summary="The audit trail (JSON, or CSV for a period)",
    responses={**problem_responses(403, 404, 422), 200: {"content": {CSV: {}}}},
)
async def list_audit_events(
    request: Request,
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
) -> Page[AuditEventOut] | Response:
    """Every state change a person or an API key made — review decisions, registrations,
    payments and refunds, payouts, claims, roles, memberships, sandbox moves … — with its
    actor, organization, the fields it announced and their previous values (`before`), request
    id and address, newest first.
    Platform admins (with the `platform` scope) see all; an organization's owner sees its own
    by naming `organization_id`. `since` inclusive, `until` exclusive. With `Accept: text/csv`,
    every event of the period `since`–`until` (both needed; at most 100,000), oldest first,
    one row each with `changes` and `before` as JSON: what a regulator reconciles."""
    filters = AuditFilters(
        organization_id, actor_user_id, action, object_type, object_id, since, until
    )
    if CSV in request.headers.get("accept", ""):
        return _csv(await audit_period(session, caller, filters), since, until)
    rows, cursor = await audit_events(
        session,
        caller,
        filters,
        params,
    )
    return Page(items=[AuditEventOut.model_validate(row) for row in rows], next_cursor=cursor)


def _json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def _csv(rows: Sequence[AuditEvent], since: datetime | None, until: datetime | None) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.created_at.isoformat(),
                row.actor_user_id or "",
                row.actor_api_key_id or "",
                row.organization_id or "",
                row.action,
                row.object_type,
                row.object_id or "",
                _json(row.changes),
                "" if row.before is None else _json(row.before),
                row.request_id or "",
                row.address or "",
            ]
        )
    name = f"audit-{since:%Y%m%d}-{until:%Y%m%d}.csv" if since and until else "audit.csv"
    # A BOM so that spreadsheet programs read the Chinese as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

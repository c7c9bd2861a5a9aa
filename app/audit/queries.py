"""Reads of the audit trail: a page of events, filtered, for a caller who may see them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEvent
from app.core.auth import MemberRole, PlatformRole, Principal
from app.core.errors import ValidationFailed
from app.core.pagination import PageParams, paginate


@dataclass(frozen=True)
class AuditFilters:
    organization_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


EXPORT_LIMIT = 100_000
"""Events one CSV export holds at most; a longer period is asked for in parts."""


async def audit_events(
    session: AsyncSession, principal: Principal, filters: AuditFilters, params: PageParams
) -> tuple[Sequence[AuditEvent], str | None]:
    """Events newest first. Platform admins see every event; an organization's owner sees its
    events and must name it (`organization_id`). Raises NotFound (not your organization),
    Forbidden (not its owner, or not an admin), ValidationFailed (`until` before `since`)."""
    query = _visible_and_filtered(principal, filters)
    return await paginate(session, query, params, key=AuditEvent.created_at, row_id=AuditEvent.id)


async def audit_period(
    session: AsyncSession, principal: Principal, filters: AuditFilters
) -> Sequence[AuditEvent]:
    """Every event of a period (`since` and `until` both needed), oldest first, for export.
    Raises as `audit_events`, and ValidationFailed(since/until) without a period or
    ValidationFailed(until) `export_too_long` past `EXPORT_LIMIT` events."""
    if filters.since is None:
        raise ValidationFailed("query.since", "missing")
    if filters.until is None:
        raise ValidationFailed("query.until", "missing")
    query = _visible_and_filtered(principal, filters)
    rows = list(
        (
            await session.scalars(
                query.order_by(AuditEvent.created_at, AuditEvent.id).limit(EXPORT_LIMIT + 1)
            )
        ).all()
    )
    if len(rows) > EXPORT_LIMIT:
        raise ValidationFailed("query.until", "export_too_long", limit=EXPORT_LIMIT)
    return rows


def _visible_and_filtered(principal: Principal, filters: AuditFilters) -> Select[AuditEvent]:
    if filters.since and filters.until and filters.until < filters.since:
        raise ValidationFailed("query.until", "before_since")
    query = select(AuditEvent)
    if not (principal.has_platform_role(PlatformRole.admin) and "platform" in principal.scopes):
        if filters.organization_id is None:
            principal.require_platform_role(PlatformRole.admin)
        else:
            principal.require_member(filters.organization_id)
            principal.require_role(filters.organization_id, MemberRole.owner)
    if filters.organization_id is not None:
        query = query.where(AuditEvent.organization_id == filters.organization_id)
    if filters.actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == filters.actor_user_id)
    if filters.action is not None:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type is not None:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.since is not None:
        query = query.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.created_at < filters.until)
    return query

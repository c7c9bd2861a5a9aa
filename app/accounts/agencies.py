"""Transfer agencies recognized by the region (自治区认定的技术转移服务机构).

The transfer agencies' post-subsidy (服务方后补助, 内科发成字〔2021〕12号) goes to agencies the
region recognized; platform reviewers record each recognition with its period, and anyone who
may see the agency may see them (the regions publish their lists).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import (
    AgencyRecognition,
    OrganizationKind,
    VerificationStatus,
)
from app.accounts.service import get_organization_for
from app.core.auth import PlatformRole, Principal
from app.core.errors import ValidationFailed
from app.core.outbox import record_event


async def recognize_agency(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    valid_from: date,
    valid_until: date,
    note: str | None,
    now: datetime,
) -> AgencyRecognition:
    """Record a verified transfer agency's recognition for a period (platform reviewers).
    Raises Forbidden, NotFound, ValidationFailed: `not_a_transfer_agency` or `not_verified`
    (path.organization_id), `period_inverted` (body.valid_until), `recognition_overlaps`
    (body.valid_from) when another recognition covers part of the period."""
    principal.require_platform_role(PlatformRole.reviewer)
    organization = await get_organization_for(session, principal, organization_id, lock=True)
    if organization.kind != OrganizationKind.transfer_agency:
        raise ValidationFailed("path.organization_id", "not_a_transfer_agency")
    if organization.verification_status != VerificationStatus.verified:
        raise ValidationFailed("path.organization_id", "not_verified")
    if valid_until < valid_from:
        raise ValidationFailed("body.valid_until", "period_inverted")
    overlapping = await session.scalar(
        select(AgencyRecognition.id).where(
            AgencyRecognition.organization_id == organization.id,
            and_(
                AgencyRecognition.valid_from <= valid_until,
                AgencyRecognition.valid_until >= valid_from,
            ),
        )
    )
    if overlapping is not None:
        raise ValidationFailed("body.valid_from", "recognition_overlaps")
    recognition = AgencyRecognition(
        organization_id=organization.id,
        valid_from=valid_from,
        valid_until=valid_until,
        note=note,
        decided_by_id=principal.user_id,
        decided_at=now,
    )
    session.add(recognition)
    await session.flush()
    await record_event(
        session,
        "agency.recognized",
        {
            "organization_id": str(organization.id),
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
        },
    )
    return recognition


async def recognitions_of(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Sequence[AgencyRecognition]:
    """An agency's recognitions, the latest period first. Raises NotFound."""
    organization = await get_organization_for(session, principal, organization_id)
    rows = await session.scalars(
        select(AgencyRecognition)
        .where(AgencyRecognition.organization_id == organization.id)
        .order_by(AgencyRecognition.valid_from.desc())
    )
    return rows.all()

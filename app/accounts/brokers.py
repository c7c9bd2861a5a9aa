"""Technology brokers' profiles (技术经纪人): registration with a certificate and an agency,
review by platform staff and the status they may move between."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import principals
from app.accounts.models import (
    BrokerProfile,
    BrokerStatus,
    Organization,
    OrganizationKind,
    User,
    VerificationStatus,
)
from app.accounts.queries import users_by_id
from app.accounts.schemas import (
    BrokerCreate,
    BrokerUpdate,
)
from app.core.auth import (
    MANAGERS,
    PlatformRole,
    Principal,
    user_subject,
)
from app.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate

BROKER_TRANSITIONS: dict[BrokerStatus, frozenset[BrokerStatus]] = {
    BrokerStatus.pending: frozenset({BrokerStatus.active, BrokerStatus.revoked}),
    BrokerStatus.active: frozenset({BrokerStatus.suspended, BrokerStatus.revoked}),
    BrokerStatus.suspended: frozenset({BrokerStatus.active, BrokerStatus.revoked}),
    BrokerStatus.revoked: frozenset(),
}


async def _check_agency(session: AsyncSession, agency_id: uuid.UUID | None) -> None:
    if agency_id is None:
        return
    agency = await session.get(Organization, agency_id)
    if (
        agency is None
        or agency.kind != OrganizationKind.transfer_agency
        or agency.verification_status != VerificationStatus.verified
    ):
        raise ValidationFailed("body.agency_id", "agency_required")


async def _ensure_certificate_free(
    session: AsyncSession, number: str, except_id: uuid.UUID | None = None
) -> None:
    query = select(BrokerProfile.id).where(BrokerProfile.certificate_number == number)
    if except_id is not None:
        query = query.where(BrokerProfile.id != except_id)
    if await session.scalar(query) is not None:
        raise AlreadyExists("body.certificate_number")


async def create_broker_profile(
    session: AsyncSession, principal: Principal, data: BrokerCreate
) -> BrokerProfile:
    """Apply to be a technology broker; the profile awaits platform review.

    Raises AlreadyExists (one profile per person, certificate numbers unique),
    ValidationFailed(agency_id).
    """
    assert principal.user_id is not None
    if await session.scalar(
        select(BrokerProfile.id).where(BrokerProfile.user_id == principal.user_id)
    ):
        raise AlreadyExists("user")
    await _ensure_certificate_free(session, data.certificate_number)
    await _check_agency(session, data.agency_id)
    profile = BrokerProfile(
        user_id=principal.user_id,
        certificate_number=data.certificate_number,
        level=data.level,
        agency_id=data.agency_id,
        status=BrokerStatus.pending,
    )
    session.add(profile)
    # The person's `GET /v1/me` names their broker profile.
    await principals.announce_change(session, user_subject(principal.user_id))
    await session.flush()
    await record_event(session, "broker.applied", {"broker_id": str(profile.id)})
    await session.refresh(profile)
    return profile


def _broker_visibility(principal: Principal) -> ColumnElement[bool]:
    if principal.platform_roles:
        return true()
    managed = [
        organization_id
        for organization_id, role in principal.memberships.items()
        if role in MANAGERS
    ]
    conditions = [BrokerProfile.status == BrokerStatus.active]
    if principal.user_id is not None:
        conditions.append(BrokerProfile.user_id == principal.user_id)
    if managed:
        conditions.append(BrokerProfile.agency_id.in_(managed))
    return or_(*conditions)


async def get_broker_for(
    session: AsyncSession, principal: Principal, broker_id: uuid.UUID, *, lock: bool = False
) -> tuple[BrokerProfile, User]:
    """A broker profile the caller may see: active ones, their own, their agency's, or staff."""
    query = (
        select(BrokerProfile, User)
        .join(User, User.id == BrokerProfile.user_id)
        .where(BrokerProfile.id == broker_id, _broker_visibility(principal))
    )
    if lock:
        query = query.with_for_update(of=BrokerProfile)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


async def list_brokers(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    agency_id: uuid.UUID | None = None,
    status: BrokerStatus | None = None,
) -> tuple[list[tuple[BrokerProfile, User]], str | None]:
    """Broker profiles the caller may see, newest first."""
    query = select(BrokerProfile).where(_broker_visibility(principal))
    if agency_id is not None:
        query = query.where(BrokerProfile.agency_id == agency_id)
    if status is not None:
        query = query.where(BrokerProfile.status == status)
    profiles, cursor = await paginate(
        session, query, params, key=BrokerProfile.created_at, row_id=BrokerProfile.id
    )
    users = await users_by_id(session, [p.user_id for p in profiles])
    return [(profile, users[profile.user_id]) for profile in profiles], cursor


async def update_broker_profile(
    session: AsyncSession, principal: Principal, broker_id: uuid.UUID, data: BrokerUpdate
) -> tuple[BrokerProfile, User]:
    """The broker changes their own profile; a new certificate or level goes back to review."""
    profile, user = await get_broker_for(session, principal, broker_id, lock=True)
    if profile.user_id != principal.user_id:
        raise Forbidden()
    if profile.status == BrokerStatus.revoked:
        raise InvalidState(
            detail_code="detail.broker_state", state=profile.status, target=BrokerStatus.pending
        )
    changes = data.model_dump(exclude_unset=True)
    if changes.get("certificate_number") is None:
        changes.pop("certificate_number", None)
    if changes.get("level") is None:
        changes.pop("level", None)
    if "certificate_number" in changes:
        await _ensure_certificate_free(session, changes["certificate_number"], profile.id)
    if "agency_id" in changes:
        await _check_agency(session, changes["agency_id"])
    needs_review = any(
        getattr(profile, name) != value
        for name, value in changes.items()
        if name in {"certificate_number", "level"}
    )
    for name, value in changes.items():
        setattr(profile, name, value)
    if needs_review and profile.status == BrokerStatus.active:
        profile.status = BrokerStatus.pending
    await session.flush()
    await session.refresh(profile)
    return profile, user


async def change_broker_status(
    session: AsyncSession,
    principal: Principal,
    broker_id: uuid.UUID,
    *,
    status: BrokerStatus,
    reason: str | None,
    now: datetime,
) -> tuple[BrokerProfile, User]:
    """Platform review of a broker: activate, suspend or revoke (reviewer or admin).

    Raises Forbidden, NotFound, InvalidState (with the allowed next states).
    """
    principal.require_platform_role(PlatformRole.reviewer)
    profile, user = await get_broker_for(session, principal, broker_id, lock=True)
    allowed = BROKER_TRANSITIONS[profile.status]
    if status not in allowed:
        raise InvalidState(
            detail_code="detail.broker_state",
            state=profile.status,
            target=status,
            extensions={"allowed": sorted(allowed)},
        )
    if status in {BrokerStatus.suspended, BrokerStatus.revoked} and not reason:
        raise ValidationFailed("body.reason", "missing")
    before = {"status": profile.status, "reason": profile.status_reason}
    profile.status = status
    profile.status_reason = reason
    profile.reviewed_by_id = principal.user_id
    profile.reviewed_at = now
    await record_event(
        session,
        "broker.status_changed",
        {"broker_id": str(profile.id), "status": status.value, "reason": reason},
        before=before,
    )
    await session.flush()
    await session.refresh(profile)
    return profile, user

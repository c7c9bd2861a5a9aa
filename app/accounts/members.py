"""Members of an organization and their roles: adding people, changing roles, removing them,
with an organization never left without an owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import principals
from app.accounts.models import (
    Membership,
    Organization,
    User,
)
from app.accounts.queries import user_by_email, users_by_id
from app.accounts.service import get_organization_for
from app.core.auth import (
    MANAGERS,
    MemberRole,
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


async def _membership_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Organization:
    """The organization whose member list the caller may read: its members' or staff's."""
    if not principal.is_member_of(organization_id) and not principal.platform_roles:
        raise NotFound()
    return await get_organization_for(session, principal, organization_id)


async def list_members(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[tuple[Membership, User]], str | None]:
    """An organization's members (its members and platform staff only)."""
    await _membership_organization(session, principal, organization_id)
    memberships, cursor = await paginate(
        session,
        select(Membership).where(Membership.organization_id == organization_id),
        params,
        key=Membership.created_at,
        row_id=Membership.id,
    )
    users = await users_by_id(session, [m.user_id for m in memberships])
    return [(membership, users[membership.user_id]) for membership in memberships], cursor


async def add_member(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    email: str,
    role: MemberRole,
) -> tuple[Membership, User]:
    """Add a registered person to an organization (owner or admin; owners only grant owner).

    Raises NotFound, Forbidden, ValidationFailed(email) for an unknown person,
    AlreadyExists(email) when they are a member already.
    """
    organization = await _membership_organization(session, principal, organization_id)
    principal.require_role(organization.id, *MANAGERS)
    if role == MemberRole.owner:
        principal.require_role(organization.id, MemberRole.owner)
    user = await user_by_email(session, email)
    if user is None:
        raise ValidationFailed("body.email", "no_such_user")
    existing = await session.scalar(
        select(Membership).where(
            Membership.organization_id == organization.id, Membership.user_id == user.id
        )
    )
    if existing is not None:
        raise AlreadyExists("body.email")
    membership = Membership(organization_id=organization.id, user_id=user.id, role=role)
    session.add(membership)
    await principals.announce_change(session, user_subject(user.id))
    await record_event(
        session,
        "member.added",
        {"organization_id": str(organization.id), "user_id": str(user.id), "role": role.value},
    )
    await session.flush()
    await session.refresh(membership)
    return membership, user


async def _locked_memberships(
    session: AsyncSession, organization_id: uuid.UUID
) -> dict[uuid.UUID, Membership]:
    # Lock every membership of the organization: two admins demoting the last two owners at
    # once must not leave it ownerless.
    rows = await session.scalars(
        select(Membership)
        .where(Membership.organization_id == organization_id)
        .order_by(Membership.id)
        .with_for_update()
    )
    return {membership.user_id: membership for membership in rows}


async def change_member_role(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    role: MemberRole,
) -> tuple[Membership, User]:
    """Change a member's role. Touching the owner role needs an owner; the last owner stays.

    Raises NotFound, Forbidden, InvalidState.
    """
    organization = await _membership_organization(session, principal, organization_id)
    principal.require_role(organization.id, *MANAGERS)
    memberships = await _locked_memberships(session, organization.id)
    membership = memberships.get(user_id)
    if membership is None:
        raise NotFound()
    _check_owner_change(principal, organization.id, memberships, membership, role)
    before = {"role": membership.role}
    membership.role = role
    await principals.announce_change(session, user_subject(user_id))
    user = await session.get(User, user_id)
    assert user is not None
    await record_event(
        session,
        "member.role_changed",
        {"organization_id": str(organization.id), "user_id": str(user_id), "role": role.value},
        before=before,
    )
    await session.flush()
    return membership, user


async def remove_member(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove a member (a manager, or the member themself). The last owner cannot leave."""
    organization = await _membership_organization(session, principal, organization_id)
    if user_id != principal.user_id:
        principal.require_role(organization.id, *MANAGERS)
    memberships = await _locked_memberships(session, organization.id)
    membership = memberships.get(user_id)
    if membership is None:
        raise NotFound()
    if user_id != principal.user_id:
        _check_owner_change(principal, organization.id, memberships, membership, None)
    elif membership.role == MemberRole.owner and _owner_count(memberships) == 1:
        raise InvalidState(detail_code="detail.last_owner")
    await session.delete(membership)
    await principals.announce_change(session, user_subject(user_id))
    await record_event(
        session,
        "member.removed",
        {"organization_id": str(organization.id), "user_id": str(user_id)},
        before={"role": membership.role},
    )


def _owner_count(memberships: dict[uuid.UUID, Membership]) -> int:
    return sum(1 for m in memberships.values() if m.role == MemberRole.owner)


def _check_owner_change(
    principal: Principal,
    organization_id: uuid.UUID,
    memberships: dict[uuid.UUID, Membership],
    membership: Membership,
    new_role: MemberRole | None,
) -> None:
    touches_owner = membership.role == MemberRole.owner or new_role == MemberRole.owner
    if touches_owner and principal.role_in(organization_id) != MemberRole.owner:
        raise Forbidden(detail_code="detail.owner_required")
    if (
        membership.role == MemberRole.owner
        and new_role != MemberRole.owner
        and _owner_count(memberships) == 1
    ):
        raise InvalidState(detail_code="detail.last_owner")

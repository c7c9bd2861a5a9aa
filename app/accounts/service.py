"""Rules of the accounts package: sign-in, organizations, members, brokers, API keys.

Every lookup that takes an id also takes the caller, and answers NotFound for what the caller
may not see, so another organization's private objects are indistinguishable from absent ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import principals, queries
from app.accounts.identifiers import division_path
from app.accounts.models import (
    ApiKey,
    BrokerProfile,
    BrokerStatus,
    Membership,
    Organization,
    OrganizationKind,
    PlatformRoleGrant,
    RefreshToken,
    User,
    VerificationStatus,
)
from app.accounts.queries import organizations_by_id
from app.accounts.schemas import (
    ApiKeyCreate,
    BrokerCreate,
    BrokerUpdate,
    OrganizationCreate,
    OrganizationUpdate,
    TokenPair,
    UserCreate,
)
from app.core import security
from app.core.auth import (
    ALL_SCOPES,
    API_KEY_SCOPES,
    MANAGERS,
    MemberRole,
    PlatformRole,
    Principal,
)
from app.core.db import one_or_not_found
from app.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidCredentials,
    InvalidGrant,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.core.reads import ReadPool

# An API key's last_used_at is written at most this often, so busy keys do not write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenSettings:
    signing_key: str
    access_ttl: timedelta
    refresh_ttl: timedelta


# --- users and sign-in -------------------------------------------------------------------


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def register_user(session: AsyncSession, data: UserCreate) -> User:
    """Create a person's account. Raises AlreadyExists(email) when the email is taken."""
    if await _user_by_email(session, data.email) is not None:
        raise AlreadyExists("body.email")
    user = User(
        email=data.email,
        password_hash=security.hash_password(data.password),
        display_name=data.display_name,
    )
    session.add(user)
    await session.flush()
    return user


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    requested_scopes: Iterable[str],
    now: datetime,
    tokens: TokenSettings,
) -> TokenPair:
    """OAuth2 password grant: a short access token and a refresh token.

    Raises InvalidCredentials for an unknown email, a wrong password or a disabled account,
    without saying which.
    """
    user = await _user_by_email(session, email)
    if not security.verify_password(user.password_hash if user else None, password):
        raise InvalidCredentials()
    assert user is not None
    if not user.is_active:
        raise InvalidCredentials()
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    scopes = _granted_scopes(requested_scopes)
    return await _issue_tokens(session, user.id, scopes, uuid.uuid4(), now, tokens)


def _granted_scopes(requested: Iterable[str]) -> frozenset[str]:
    asked = frozenset(requested)
    unknown = asked - ALL_SCOPES
    if unknown:
        raise ValidationFailed("body.scope", "enum", expected=" ".join(sorted(ALL_SCOPES)))
    return asked or ALL_SCOPES


async def _issue_tokens(
    session: AsyncSession,
    user_id: uuid.UUID,
    scopes: frozenset[str],
    family_id: uuid.UUID,
    now: datetime,
    tokens: TokenSettings,
) -> TokenPair:
    refresh = security.new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=security.digest(refresh),
            scopes=sorted(scopes),
            created_at=now,
            expires_at=now + tokens.refresh_ttl,
        )
    )
    access = security.issue_access_token(
        user_id=user_id,
        family_id=family_id,
        scopes=scopes,
        now=now,
        ttl=tokens.access_ttl,
        key=tokens.signing_key,
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        expires_in=int(tokens.access_ttl.total_seconds()),
        refresh_token=refresh,
        scope=" ".join(sorted(scopes)),
    )


async def refresh_tokens(
    session: AsyncSession, *, refresh_token: str, now: datetime, tokens: TokenSettings
) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one is spent.

    Presenting a spent token again means it leaked: the whole family is revoked (RFC 9700
    §4.14.2). Raises InvalidGrant.
    """
    stored = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == security.digest(refresh_token))
        .with_for_update()
    )
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise InvalidGrant()
    if stored.used_at is not None:
        await _revoke_family(session, stored.user_id, stored.family_id, now)
        # The revocation must survive the error answer that follows it.
        raise InvalidGrant(keep_changes=True)
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise InvalidGrant()
    stored.used_at = now
    return await _issue_tokens(
        session, user.id, frozenset(stored.scopes), stored.family_id, now, tokens
    )


async def _revoke_family(
    session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID, now: datetime
) -> None:
    """Revoke a sign-in: its refresh tokens, and the access tokens issued from them."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await principals.announce_change(session, principals.user_subject(user_id))


async def revoke_refresh_token(session: AsyncSession, *, refresh_token: str, now: datetime) -> None:
    """Sign out: revoke the token's family. Unknown tokens are ignored (RFC 7009 §2.2)."""
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == security.digest(refresh_token))
    )
    if stored is not None:
        await _revoke_family(session, stored.user_id, stored.family_id, now)


async def resolve_principal(
    reads: ReadPool, token: str, now: datetime, *, signing_key: str
) -> Principal | None:
    """The principal behind a bearer credential (access token or API key), or None. Runs on
    the read path: one statement (and, at most once a minute per key, its last use)."""
    if token.startswith(security.API_KEY_PREFIX):
        return await _principal_from_api_key(reads, token, now)
    claims = security.read_access_token(token, now=now, key=signing_key)
    if claims is None:
        return None
    row = await queries.caller(reads, claims.user_id, claims.family_id)
    if row is None:  # no such active person, or the sign-in was revoked
        return None
    return Principal(
        kind="user",
        user_id=claims.user_id,
        scopes=claims.scopes,
        memberships={
            uuid.UUID(organization): MemberRole(role)
            for organization, role in row["memberships"].items()
        },
        platform_roles=frozenset(PlatformRole(role) for role in row["platform_roles"] or ()),
        credential_expires_at=claims.expires_at,
    )


async def _principal_from_api_key(reads: ReadPool, token: str, now: datetime) -> Principal | None:
    prefix = security.api_key_prefix(token)
    if prefix is None:
        return None
    key = await queries.api_key_by_prefix(reads, prefix)
    if (
        key is None
        or not security.digests_match(key["key_hash"], token)
        or key["revoked_at"] is not None
        or (key["expires_at"] is not None and key["expires_at"] <= now)
    ):
        return None
    if key["last_used_at"] is None or now - key["last_used_at"] >= LAST_USED_RESOLUTION:
        await queries.mark_api_key_used(reads, key["id"], now)
    # An app acts as a plain member of its organization, limited further by its scopes.
    return Principal(
        kind="api_key",
        user_id=None,
        api_key_id=key["id"],
        scopes=frozenset(key["scopes"]),
        memberships={key["organization_id"]: MemberRole.member},
        credential_expires_at=key["expires_at"],
    )


async def _users_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    """The people behind a page of rows, in one query."""
    users = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in users}


async def set_platform_roles(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, roles: Iterable[PlatformRole]
) -> list[PlatformRole]:
    """Replace a person's staff roles. Platform admins only; raises Forbidden, NotFound."""
    principal.require_platform_role(PlatformRole.admin)
    if await session.get(User, user_id) is None:
        raise NotFound()
    wanted = sorted(set(roles))
    await session.execute(delete(PlatformRoleGrant).where(PlatformRoleGrant.user_id == user_id))
    for role in wanted:
        session.add(PlatformRoleGrant(user_id=user_id, role=role, granted_by_id=principal.user_id))
    await principals.announce_change(session, principals.user_subject(user_id))
    await record_event(
        session, "staff.roles_changed", {"user_id": str(user_id), "roles": list(wanted)}
    )
    return wanted


# --- organizations -----------------------------------------------------------------------


def division_label(code: str) -> str:
    return " ".join(division.name for division in division_path(code))


def _visible_organizations_filter(principal: Principal) -> ColumnElement[bool]:
    if principal.platform_roles:
        return true()
    return or_(
        Organization.verification_status == VerificationStatus.verified,
        Organization.id.in_(list(principal.memberships)),
    )


async def create_organization(
    session: AsyncSession, principal: Principal, data: OrganizationCreate
) -> Organization:
    """Register an organization; the creator becomes its owner and it awaits verification."""
    assert principal.user_id is not None
    await _ensure_credit_code_free(session, data.credit_code)
    organization = Organization(
        kind=OrganizationKind(data.kind),
        name=data.name,
        credit_code=data.credit_code,
        division_code=data.division_code,
        verification_status=VerificationStatus.pending,
    )
    session.add(organization)
    await session.flush()
    session.add(
        Membership(
            organization_id=organization.id, user_id=principal.user_id, role=MemberRole.owner
        )
    )
    await principals.announce_change(session, principals.user_subject(principal.user_id))
    await record_event(
        session,
        "organization.created",
        {"organization_id": str(organization.id), "kind": organization.kind.value},
    )
    await session.flush()
    return organization


async def _ensure_credit_code_free(
    session: AsyncSession, credit_code: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Organization.id).where(Organization.credit_code == credit_code)
    if except_id is not None:
        query = query.where(Organization.id != except_id)
    if await session.scalar(query) is not None:
        raise AlreadyExists("body.credit_code")


async def get_organization_for(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, *, lock: bool = False
) -> Organization:
    """An organization the caller may see; NotFound otherwise."""
    query = select(Organization).where(
        Organization.id == organization_id, _visible_organizations_filter(principal)
    )
    return await one_or_not_found(session, query, lock=lock)


async def list_organizations(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    kind: OrganizationKind | None = None,
    status: VerificationStatus | None = None,
    division_prefix: str | None = None,
) -> tuple[Sequence[Organization], str | None]:
    """Organizations the caller may see, newest first."""
    query = select(Organization).where(_visible_organizations_filter(principal))
    if kind is not None:
        query = query.where(Organization.kind == kind)
    if status is not None:
        query = query.where(Organization.verification_status == status)
    if division_prefix:
        query = query.where(Organization.division_code.startswith(division_prefix))
    return await paginate(
        session, query, params, key=Organization.created_at, row_id=Organization.id
    )


async def update_organization(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    data: OrganizationUpdate,
) -> Organization:
    """Change an organization's details (owner or admin).

    A verified organization's credit code is fixed. A rejected organization goes back to
    review once changed. Raises NotFound, Forbidden, InvalidState, AlreadyExists.
    """
    organization = await get_organization_for(session, principal, organization_id, lock=True)
    principal.require_manager(organization.id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "credit_code" in changes and changes["credit_code"] != organization.credit_code:
        if organization.verification_status == VerificationStatus.verified:
            raise InvalidState(
                detail_code="detail.organization_state", state=organization.verification_status
            )
        await _ensure_credit_code_free(session, changes["credit_code"], except_id=organization.id)
    for name, value in changes.items():
        setattr(organization, name, value)
    if changes and organization.verification_status == VerificationStatus.rejected:
        organization.verification_status = VerificationStatus.pending
    await session.flush()
    await session.refresh(organization)
    return organization


async def decide_verification(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    verify: bool,
    note: str | None,
    now: datetime,
) -> Organization:
    """Platform review of an organization's identity (reviewer or admin).

    Only a pending organization can be decided; rejecting needs a note.
    Raises Forbidden, NotFound, InvalidState, ValidationFailed.
    """
    principal.require_platform_role(PlatformRole.reviewer)
    organization = await get_organization_for(session, principal, organization_id, lock=True)
    if organization.verification_status != VerificationStatus.pending:
        raise InvalidState(
            detail_code="detail.organization_state", state=organization.verification_status
        )
    if not verify and not note:
        raise ValidationFailed("body.note", "missing")
    organization.verification_status = (
        VerificationStatus.verified if verify else VerificationStatus.rejected
    )
    organization.verified_at = now if verify else None
    organization.verified_by_id = principal.user_id
    organization.verification_note = note
    await record_event(
        session,
        "organization.verified" if verify else "organization.rejected",
        {"organization_id": str(organization.id)},
    )
    await session.flush()
    await session.refresh(organization)
    return organization


# --- members -----------------------------------------------------------------------------


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
    users = await _users_by_id(session, [m.user_id for m in memberships])
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
    user = await _user_by_email(session, email)
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
    await principals.announce_change(session, principals.user_subject(user.id))
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
    membership.role = role
    await principals.announce_change(session, principals.user_subject(user_id))
    user = await session.get(User, user_id)
    assert user is not None
    await record_event(
        session,
        "member.role_changed",
        {"organization_id": str(organization.id), "user_id": str(user_id), "role": role.value},
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
    await principals.announce_change(session, principals.user_subject(user_id))
    await record_event(
        session,
        "member.removed",
        {"organization_id": str(organization.id), "user_id": str(user_id)},
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


# --- API keys ----------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession,
    principal: Principal,
    data: ApiKeyCreate,
    *,
    now: datetime,
    wall: datetime,
) -> tuple[ApiKey, str]:
    """Make an API key for an organization (owner or admin); the secret is returned once. Its
    expiry is wall time, as every check of it is (`Clock.wall`).

    Raises NotFound, Forbidden, ValidationFailed(scopes / expires_at).
    """
    assert principal.user_id is not None
    principal.require_manager(data.organization_id)
    scopes = set(data.scopes)
    refused = scopes - API_KEY_SCOPES
    if refused:
        raise ValidationFailed("body.scopes", "enum", expected=" ".join(sorted(API_KEY_SCOPES)))
    if data.expires_at is not None and data.expires_at <= wall:
        raise ValidationFailed("body.expires_at", "expiry_past")
    secret, prefix = security.new_api_key()
    key = ApiKey(
        organization_id=data.organization_id,
        name=data.name,
        prefix=prefix,
        key_hash=security.digest(secret),
        scopes=sorted(scopes),
        created_by_id=principal.user_id,
        created_at=now,
        expires_at=data.expires_at,
    )
    session.add(key)
    await record_event(
        session,
        "api_key.created",
        {"organization_id": str(data.organization_id), "prefix": prefix},
    )
    await session.flush()
    return key, secret


async def list_api_keys(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[ApiKey], str | None]:
    """An organization's API keys, without secrets (owner or admin)."""
    principal.require_manager(organization_id)
    return await paginate(
        session,
        select(ApiKey).where(ApiKey.organization_id == organization_id),
        params,
        key=ApiKey.created_at,
        row_id=ApiKey.id,
    )


async def revoke_api_key(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, *, now: datetime
) -> ApiKey:
    """Revoke a key at once (owner or admin of its organization). Revoking twice is harmless."""
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None:
        raise NotFound()
    principal.require_manager(key.organization_id)
    if key.revoked_at is None:
        key.revoked_at = now
        await principals.announce_change(session, principals.api_key_subject(key.id))
        await record_event(
            session,
            "api_key.revoked",
            {"organization_id": str(key.organization_id), "prefix": key.prefix},
        )
    await session.flush()
    return key


# --- brokers -----------------------------------------------------------------------------

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
    users = await _users_by_id(session, [p.user_id for p in profiles])
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
    profile.status = status
    profile.status_reason = reason
    profile.reviewed_by_id = principal.user_id
    profile.reviewed_at = now
    await record_event(
        session, "broker.status_changed", {"broker_id": str(profile.id), "status": status.value}
    )
    await session.flush()
    await session.refresh(profile)
    return profile, user


async def acting_organization(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID | None,
    *,
    default_kind: OrganizationKind | None = None,
) -> Organization:
    """The organization the caller acts for (registers intent, deposits, bids): the one named,
    which the caller must belong to, or else their only organization (of `default_kind`).

    Raises ValidationFailed(body.organization_id): `missing` when there is no single default,
    `not_your_organization` when the caller would act on someone else's behalf.
    """
    if organization_id is None and default_kind is not None:
        candidates = await organizations_by_id(session, principal.memberships)
        fitting = [o for o in candidates.values() if o.kind == default_kind]
        if len(fitting) != 1:
            raise ValidationFailed("body.organization_id", "missing")
        return fitting[0]
    chosen = principal.acting_for(organization_id)
    return (await organizations_by_id(session, [chosen]))[chosen]


def minimum_window_days(kind: OrganizationKind, configured: dict[str, int]) -> int:
    """The shortest publication window (公示期) an organization of this kind may choose."""
    return configured.get(kind.value, max(configured.values(), default=15))

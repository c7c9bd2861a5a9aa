"""Rules of the accounts package: people and sign-in, organizations and their verification
(members: `members`, API keys: `api_keys`, broker profiles: `brokers`).

Every lookup that takes an id also takes the caller, and answers NotFound for what the caller
may not see, so another organization's private objects are indistinguishable from absent ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import principals, queries, totp
from app.accounts.identifiers import division_path
from app.accounts.models import (
    Membership,
    Organization,
    OrganizationKind,
    PlatformRoleGrant,
    RefreshToken,
    User,
    VerificationStatus,
)
from app.accounts.queries import organizations_by_id, user_by_email
from app.accounts.schemas import (
    OrganizationCreate,
    OrganizationUpdate,
    TokenPair,
    UserCreate,
)
from app.accounts.throttle import SignInThrottle, account_subject, address_subject
from app.core import security
from app.core.audit import changed_fields
from app.core.auth import (
    ALL_SCOPES,
    MemberRole,
    PlatformRole,
    Principal,
    user_subject,
)
from app.core.db import one_or_not_found
from app.core.errors import (
    AlreadyExists,
    InvalidCredentials,
    InvalidGrant,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.core.reads import ReadPool
from app.core.sealing import Sealer

# An API key's last_used_at is written at most this often, so busy keys do not write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenSettings:
    signing_key: str
    access_ttl: timedelta
    refresh_ttl: timedelta


# --- users and sign-in -------------------------------------------------------------------


async def register_user(session: AsyncSession, data: UserCreate) -> User:
    """Create a person's account. Raises AlreadyExists(email) when the email is taken."""
    if await user_by_email(session, data.email) is not None:
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
    throttle: SignInThrottle,
    address: str,
    sealer: Sealer,
    second_factor_code: str | None = None,
    staff_need_second_factor: bool = True,
) -> TokenPair:
    """OAuth2 password grant: a short access token and a refresh token. Staff get the
    `platform` scope only with `second_factor_code` (a TOTP or recovery code, `totp`) when
    `staff_need_second_factor`; a wrong, reused or spent code fails as a wrong password.

    Raises InvalidCredentials for an unknown email, a wrong password or a disabled account,
    without saying which; SignInThrottled while the email or the address must wait
    (`throttle`), before any password is checked.
    """
    account = account_subject(email)
    await throttle.check([account, address_subject(address)], now)
    user = await user_by_email(session, email)
    if not security.verify_password(user.password_hash if user else None, password):
        await throttle.failed(
            account=account, address=address, user_id=user.id if user else None, now=now
        )
        raise InvalidCredentials()
    assert user is not None
    if not user.is_active:
        await throttle.failed(account=account, address=address, now=now)
        raise InvalidCredentials()
    try:
        proved = await totp.second_factor(
            session, user.id, second_factor_code, sealer=sealer, now=now
        )
    except InvalidCredentials:
        await throttle.failed(account=account, address=address, user_id=user.id, now=now)
        raise
    await throttle.succeeded(session, account)
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    scopes = _granted_scopes(requested_scopes)
    if staff_need_second_factor and not proved:
        scopes -= {"platform"}
    return await _issue_tokens(
        session, user.id, scopes, uuid.uuid4(), now, tokens, second_factor=proved
    )


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
    *,
    second_factor: bool,
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
            second_factor=second_factor,
        )
    )
    access = security.issue_access_token(
        user_id=user_id,
        family_id=family_id,
        scopes=scopes,
        now=now,
        ttl=tokens.access_ttl,
        key=tokens.signing_key,
        second_factor=second_factor,
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        expires_in=int(tokens.access_ttl.total_seconds()),
        refresh_token=refresh,
        scope=" ".join(sorted(scopes)),
    )


async def refresh_tokens(
    session: AsyncSession,
    *,
    refresh_token: str,
    now: datetime,
    tokens: TokenSettings,
    throttle: SignInThrottle,
    address: str,
) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one is spent.

    Presenting a spent token again means it leaked: the whole family is revoked (RFC 9700
    §4.14.2). Raises InvalidGrant; SignInThrottled while the address must wait (a token that
    is no token counts against it).
    """
    await throttle.check([address_subject(address)], now)
    stored = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == security.digest(refresh_token))
        .with_for_update()
    )
    if stored is None:
        await throttle.failed(address=address, now=now)
        raise InvalidGrant()
    if stored.revoked_at is not None or stored.expires_at <= now:
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
        session,
        user.id,
        frozenset(stored.scopes),
        stored.family_id,
        now,
        tokens,
        second_factor=stored.second_factor,
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
    await principals.announce_change(session, user_subject(user_id))


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
    row = await queries.caller(reads, claims.user_id, claims.family_id, claims.second_factor)
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
        second_factor=claims.second_factor,
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


async def set_platform_roles(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, roles: Iterable[PlatformRole]
) -> list[PlatformRole]:
    """Replace a person's staff roles. Platform admins only; raises Forbidden, NotFound."""
    principal.require_platform_role(PlatformRole.admin)
    if await session.get(User, user_id) is None:
        raise NotFound()
    wanted = sorted(set(roles))
    held = await session.scalars(
        select(PlatformRoleGrant.role).where(PlatformRoleGrant.user_id == user_id)
    )
    before = {"roles": sorted(held)}
    await session.execute(delete(PlatformRoleGrant).where(PlatformRoleGrant.user_id == user_id))
    for role in wanted:
        session.add(PlatformRoleGrant(user_id=user_id, role=role, granted_by_id=principal.user_id))
    await principals.announce_change(session, user_subject(user_id))
    await record_event(
        session,
        "staff.roles_changed",
        {"user_id": str(user_id), "roles": list(wanted)},
        before=before,
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
        nature_code=data.nature_code,
        country_code=data.country_code,
        verification_status=VerificationStatus.pending,
    )
    session.add(organization)
    await session.flush()
    session.add(
        Membership(
            organization_id=organization.id, user_id=principal.user_id, role=MemberRole.owner
        )
    )
    await principals.announce_change(session, user_subject(principal.user_id))
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
    review once changed. Only owners require (or stop requiring) a second factor of the
    members, and requiring it takes a sign-in that proved one (so nobody locks themselves
    out). Raises NotFound, Forbidden, InvalidState, AlreadyExists,
    ValidationFailed(second_factor_required) `second_factor_needed`.
    """
    organization = await get_organization_for(session, principal, organization_id, lock=True)
    principal.require_manager(organization.id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if changes.get("second_factor_required", organization.second_factor_required) != (
        organization.second_factor_required
    ):
        principal.require_role(organization.id, MemberRole.owner)
        if changes["second_factor_required"] and not principal.second_factor:
            raise ValidationFailed("body.second_factor_required", "second_factor_needed")
    if "credit_code" in changes and changes["credit_code"] != organization.credit_code:
        if organization.verification_status == VerificationStatus.verified:
            raise InvalidState(
                detail_code="detail.organization_state", state=organization.verification_status
            )
        await _ensure_credit_code_free(session, changes["credit_code"], except_id=organization.id)
    # Each member's `GET /v1/me` names the organization; whether a member acts for it depends
    # on its second-factor rule.
    members_see_it_anew = any(
        name in changes and changes[name] != getattr(organization, name)
        for name in ("name", "second_factor_required")
    )
    fields = [*changes, "verification_status"]
    held = {name: getattr(organization, name) for name in fields}
    for name, value in changes.items():
        setattr(organization, name, value)
    if changes and organization.verification_status == VerificationStatus.rejected:
        organization.verification_status = VerificationStatus.pending
    after, before = changed_fields(held, {name: getattr(organization, name) for name in fields})
    if after:
        await record_event(
            session,
            "organization.updated",
            {"organization_id": str(organization.id), **after},
            before=before,
        )
    if members_see_it_anew:
        members = await session.scalars(
            select(Membership.user_id).where(Membership.organization_id == organization.id)
        )
        for user_id in members:
            await principals.announce_change(session, user_subject(user_id))
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
        {
            "organization_id": str(organization.id),
            "verification_status": organization.verification_status.value,
        },
        before={"verification_status": VerificationStatus.pending},
    )
    await session.flush()
    await session.refresh(organization)
    return organization


# --- brokers -----------------------------------------------------------------------------


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

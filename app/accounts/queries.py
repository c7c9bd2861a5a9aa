"""Reads of accounts: who the caller is, on every request of its kind on the read path
(`app/core/reads.py`); and what other packages read of organizations, people and brokers
(names, VAT filers, payout recipients, the organizations read model for statistics)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from sqlalchemy import (
    Boolean,
    DateTime,
    Uuid,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import (
    AgencyRecognition,
    ApiKey,
    BrokerProfile,
    BrokerStatus,
    Membership,
    Organization,
    PlatformRoleGrant,
    RefreshToken,
    User,
    VatPeriod,
)
from app.accounts.principals import PrincipalCache
from app.core.auth import (
    Principal,
    user_subject,
)
from app.core.db import ReadModel, among
from app.core.errors import (
    NotFound,
)
from app.core.reads import PreparedRead, ReadPool
from app.payments.provider import Recipient

_MEMBERSHIPS = (
    select(
        func.coalesce(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_object(
                        literal("organization_id"),
                        Organization.id,
                        literal("organization_name"),
                        Organization.name,
                        literal("organization_kind"),
                        Organization.kind,
                        literal("role"),
                        Membership.role,
                        literal("second_factor_required"),
                        Organization.second_factor_required,
                    ),
                    Organization.name,
                )
            ),
            text("'[]'::jsonb"),
        )
    )
    .join(Membership, Membership.organization_id == Organization.id)
    .where(Membership.user_id == User.id)
    .scalar_subquery()
)
_BROKER = select(BrokerProfile.id).where(BrokerProfile.user_id == User.id).scalar_subquery()
_ME = PreparedRead(
    select(
        User.id,
        User.email,
        User.display_name,
        User.created_at,
        _MEMBERSHIPS.label("memberships"),
        _BROKER.label("broker_profile_id"),
    ).where(User.id == bindparam("user_id"))
)


async def describe_me(
    reads: ReadPool, principal: Principal, kept: PrincipalCache
) -> dict[str, object]:
    """The caller's account, memberships, staff roles and broker profile: what the person holds
    in one statement (or as this process read it lately, `PrincipalCache.description`), what
    the credential grants from the principal. Raises NotFound when the account is gone."""
    assert principal.user_id is not None
    subject = user_subject(principal.user_id)
    person = kept.description(subject)
    if person is None:
        row = await reads.one(_ME, user_id=principal.user_id)
        if row is None:
            raise NotFound()
        person = {
            "user": {
                "id": row["id"],
                "email": row["email"],
                "display_name": row["display_name"],
                "created_at": row["created_at"],
            },
            "memberships": row["memberships"],
            "broker_profile_id": row["broker_profile_id"],
        }
        kept.remember_description(subject, person)
    return {
        **person,
        "memberships": [
            {**held, "active": principal.is_member_of(uuid.UUID(held["organization_id"]))}
            for held in person["memberships"]
        ],
        "platform_roles": sorted(principal.platform_roles),
        "scopes": sorted(principal.scopes),
        "second_factor": principal.second_factor,
    }


_CALLER = PreparedRead(
    select(
        select(
            func.coalesce(
                func.jsonb_object_agg(Membership.organization_id, Membership.role),
                text("'{}'::jsonb"),
            )
        )
        .join(Organization, Organization.id == Membership.organization_id)
        .where(
            Membership.user_id == User.id,
            # An organization that requires a second factor does not count a sign-in without
            # one among its members.
            or_(
                Organization.second_factor_required.is_(False),
                bindparam("second_factor", type_=Boolean()),
            ),
        )
        .scalar_subquery()
        .label("memberships"),
        select(func.array_agg(PlatformRoleGrant.role))
        .where(PlatformRoleGrant.user_id == User.id)
        .scalar_subquery()
        .label("platform_roles"),
    ).where(
        User.id == bindparam("user_id"),
        User.is_active.is_(True),
        or_(
            bindparam("family_id", type_=Uuid()).is_(None),
            ~exists().where(
                RefreshToken.family_id == bindparam("family_id", type_=Uuid()),
                RefreshToken.revoked_at.is_not(None),
            ),
        ),
    )
)
_API_KEY = PreparedRead(
    select(
        ApiKey.id,
        ApiKey.organization_id,
        ApiKey.key_hash,
        ApiKey.scopes,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.revoked_at,
    ).where(ApiKey.prefix == bindparam("prefix"))
)
_API_KEY_USED = PreparedRead(
    update(ApiKey)
    .where(ApiKey.id == bindparam("api_key_id"))
    .values(last_used_at=bindparam("now", type_=DateTime(timezone=True)))
)


async def caller(
    reads: ReadPool, user_id: uuid.UUID, family_id: uuid.UUID | None, second_factor: bool
) -> asyncpg.Record | None:
    """An active person's memberships (`{organization id: role}`; those of organizations that
    require a second factor only when the sign-in proved one) and staff roles, unless the
    sign-in (`family_id`) their token came from was revoked; None otherwise."""
    return await reads.one(
        _CALLER, user_id=user_id, family_id=family_id, second_factor=second_factor
    )


async def api_key_by_prefix(reads: ReadPool, prefix: str) -> asyncpg.Record | None:
    """The key with this public prefix (its hash to compare, state and scopes), or None."""
    return await reads.one(_API_KEY, prefix=prefix)


async def mark_api_key_used(reads: ReadPool, api_key_id: uuid.UUID, now: datetime) -> None:
    """Record a key's last use: one statement of its own, outside the request's transaction
    (a request that fails still used the key)."""
    await reads.run(_API_KEY_USED, api_key_id=api_key_id, now=now)


def organizations_select() -> ReadModel:
    """The read model of organizations for statistics: `organization_id`, `kind`,
    `division_code`, `name`."""
    return select(
        Organization.id.label("organization_id"),
        Organization.kind,
        Organization.division_code,
        Organization.name,
    )


def broker_agencies_select() -> ReadModel:
    """The read model of brokers' agencies: `broker_id`, `agency_id` (None: independent)."""
    return select(BrokerProfile.id.label("broker_id"), BrokerProfile.agency_id)


async def recognized_during(
    session: AsyncSession, organization_id: uuid.UUID, first: date, last: date
) -> bool:
    """Whether a recognition of the region (认定) covers any day from `first` to `last`."""
    found = await session.scalar(
        select(AgencyRecognition.id).where(
            AgencyRecognition.organization_id == organization_id,
            AgencyRecognition.valid_from <= last,
            AgencyRecognition.valid_until >= first,
        )
    )
    return found is not None


async def organizations_by_credit_code(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, Organization]:
    """Organizations by 统一社会信用代码 (no visibility rule, as `organizations_by_id`)."""
    rows = await session.scalars(
        select(Organization).where(Organization.credit_code.in_(list(set(codes))))
    )
    return {organization.credit_code: organization for organization in rows}


async def organizations_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Organization]:
    """Organizations by id, for other packages that show or check them (no visibility rule:
    the caller decides what to expose)."""
    rows = await session.scalars(select(Organization).where(Organization.id.in_(list(set(ids)))))
    return {organization.id: organization for organization in rows}


async def vat_filers(
    session: AsyncSession, ids: Sequence[uuid.UUID], period: VatPeriod
) -> list[uuid.UUID]:
    """Those of these organizations that file VAT by this kind of period, in the given order."""
    filing = set(
        await session.scalars(
            select(Organization.id).where(
                among(Organization.id, ids), Organization.vat_period == period
            )
        )
    )
    return [organization for organization in ids if organization in filing]


async def inactive_brokers(
    session: AsyncSession, broker_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    """Of `broker_ids`, those that are not an active broker profile."""
    wanted = set(broker_ids)
    active = set(
        (
            await session.scalars(
                select(BrokerProfile.id).where(
                    BrokerProfile.id.in_(list(wanted)), BrokerProfile.status == BrokerStatus.active
                )
            )
        ).all()
    )
    return sorted(wanted - active)


@dataclass(frozen=True)
class BrokerSummary:
    """What other packages need of a broker."""

    id: uuid.UUID
    user_id: uuid.UUID
    level: str
    agency_id: uuid.UUID | None
    active: bool
    name: str


def _broker_summary(profile: BrokerProfile, name: str) -> BrokerSummary:
    return BrokerSummary(
        profile.id,
        profile.user_id,
        profile.level.value,
        profile.agency_id,
        profile.status == BrokerStatus.active,
        name,
    )


async def broker_of_user(session: AsyncSession, user_id: uuid.UUID | None) -> BrokerSummary | None:
    """The caller's own broker profile, if they have one."""
    if user_id is None:
        return None
    row = await session.execute(
        select(BrokerProfile, User.display_name)
        .join(User, User.id == BrokerProfile.user_id)
        .where(BrokerProfile.user_id == user_id)
    )
    found = row.first()
    if found is None:
        return None
    return _broker_summary(*found)


async def brokers_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, BrokerSummary]:
    rows = await session.execute(
        select(BrokerProfile, User.display_name)
        .join(User, User.id == BrokerProfile.user_id)
        .where(BrokerProfile.id.in_(list(set(ids))))
    )
    return {profile.id: _broker_summary(profile, name) for profile, name in rows}


async def recipient_for_broker(session: AsyncSession, broker_id: uuid.UUID) -> Recipient:
    """Where a broker's reward payout goes (their own name; no Stripe account for people)."""
    broker = (await brokers_by_id(session, [broker_id]))[broker_id]
    return Recipient(organization_id=str(broker.user_id), name=broker.name)


async def organization_for_payout(session: AsyncSession, organization_id: uuid.UUID) -> Recipient:
    """Where a payout to the organization goes."""
    organization = (await organizations_by_id(session, [organization_id]))[organization_id]
    return Recipient(
        organization_id=str(organization.id),
        name=organization.name,
        stripe_account_id=organization.stripe_account_id,
    )


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def memberships_of(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The organizations each person belongs to (a conflict of interest is decided on them)."""
    rows = await session.execute(
        select(Membership.user_id, Membership.organization_id).where(
            Membership.user_id.in_(list(user_ids))
        )
    )
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user_id, organization_id in rows:
        found.setdefault(user_id, set()).add(organization_id)
    return found


async def users_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    """The people behind a page of rows, in one query."""
    users = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in users}

"""Reads of accounts that run on every request of their kind, on the read path
(`app/core/reads.py`): who the caller is."""

from __future__ import annotations

from sqlalchemy import bindparam, func, literal, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.accounts.models import BrokerProfile, Membership, Organization, User
from app.core.auth import Principal
from app.core.errors import NotFound
from app.core.reads import PreparedRead, ReadPool

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


async def describe_me(reads: ReadPool, principal: Principal) -> dict[str, object]:
    """The caller's account, memberships, staff roles and broker profile, in one statement.
    Raises NotFound when the account is gone."""
    assert principal.user_id is not None
    row = await reads.one(_ME, user_id=principal.user_id)
    if row is None:
        raise NotFound()
    return {
        "user": {
            "id": row["id"],
            "email": row["email"],
            "display_name": row["display_name"],
            "created_at": row["created_at"],
        },
        "memberships": row["memberships"],
        "platform_roles": sorted(principal.platform_roles),
        "broker_profile_id": row["broker_profile_id"],
        "scopes": sorted(principal.scopes),
    }

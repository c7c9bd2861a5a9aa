"""API keys of an organization (`tx_` prefix, shown once, stored hashed, scoped, revocable)
for third-party apps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import principals
from app.accounts.models import (
    ApiKey,
)
from app.accounts.schemas import (
    ApiKeyCreate,
)
from app.core import security
from app.core.auth import (
    API_KEY_SCOPES,
    Principal,
    api_key_subject,
)
from app.core.errors import (
    NotFound,
    ValidationFailed,
)
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate


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
        await principals.announce_change(session, api_key_subject(key.id))
        await record_event(
            session,
            "api_key.revoked",
            {
                "organization_id": str(key.organization_id),
                "prefix": key.prefix,
                "revoked_at": now.isoformat(),
            },
            before={"revoked_at": None},
        )
    await session.flush()
    return key

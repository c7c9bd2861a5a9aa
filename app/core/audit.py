"""The audit trail: who changed what, appended in the same transaction as the change.

Every state change a person or an API key makes announces itself through the outbox
(`record_event`); the same call appends an `AuditEvent` here when the change has an actor —
the caller the request authenticated (`act_as`, set by the authenticator) — with the
organization, the action (the event's topic), the object, the fields the change announced, the
request id and the address (`in_request`, set by the request middleware). Changes the worker
makes on the clock's behalf (a window closing, an auction settling) have no actor and are in
the outbox alone.

The table only grows: a trigger refuses UPDATE and DELETE (migration 0019), so not even the
application can rewrite what happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin

if TYPE_CHECKING:  # the authenticator sets the actor: auth imports this module
    from app.core.auth import Principal


class AuditEvent(IdMixin, Base):
    """One state change by a person or an API key."""

    __tablename__ = "audit_events"

    created_at: Mapped[datetime] = mapped_column()
    """When, on the platform clock (stamped at flush, as every row)."""
    actor_user_id: Mapped[uuid.UUID | None]
    actor_api_key_id: Mapped[uuid.UUID | None]
    organization_id: Mapped[uuid.UUID | None]
    """The organization the change concerns: the one it names, else the one its actor
    belongs to when there is exactly one (None for platform-wide changes)."""
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(100))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The fields the change announced, as they are after it."""
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """The changed fields as they were before it; None for what did not exist before (a
    creation) or a change that announces only its result (a payment received)."""
    request_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_created_at", "created_at"),
        Index("ix_audit_events_organization_id_created_at", "organization_id", "created_at"),
    )


_actor: ContextVar[Principal | None] = ContextVar("audit_actor", default=None)
_request: ContextVar[tuple[str, str] | None] = ContextVar("audit_request", default=None)


def act_as(principal: Principal) -> None:
    """The caller the rest of this request acts for (the authenticator sets it)."""
    _actor.set(principal)


@contextmanager
def in_request(request_id: str, address: str) -> Iterator[None]:
    """Serve one request: its id and address are recorded, and no actor is known until the
    authenticator names one; both are forgotten when it ends."""
    request_token = _request.set((request_id, address))
    actor_token = _actor.set(None)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _request.reset(request_token)


@contextmanager
def as_the_clock() -> Iterator[None]:
    """Run the worker's due work inside a request (a sandbox clock move): what it changes, the
    clock changed, not the caller."""
    token = _actor.set(None)
    try:
        yield
    finally:
        _actor.reset(token)


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Of two states of an object's fields, those that differ: (after, before), as JSON
    values, for a change's announcement and its `before`."""
    old, new = to_jsonable_python(dict(before)), to_jsonable_python(dict(after))
    names = [name for name in new if old.get(name) != new[name]]
    return {name: new[name] for name in names}, {name: old.get(name) for name in names}


def record(
    session: AsyncSession,
    action: str,
    payload: dict[str, Any],
    before: Mapping[str, Any] | None = None,
) -> None:
    """Append the change to the audit trail in the caller's transaction, when a person or a key
    made it; `before` holds the changed fields' previous values."""
    actor = _actor.get()
    if actor is None:
        return
    object_type = action.split(".", 1)[0]
    object_id = payload.get(f"{object_type}_id", payload.get("id"))
    organization = payload.get("organization_id")
    if organization is None and len(actor.memberships) == 1:
        organization = next(iter(actor.memberships))
    request_id, address = _request.get() or (None, None)
    session.add(
        AuditEvent(
            actor_user_id=actor.user_id,
            actor_api_key_id=actor.api_key_id,
            organization_id=uuid.UUID(str(organization)) if organization else None,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            changes=payload,
            before=to_jsonable_python(dict(before)) if before is not None else None,
            request_id=request_id,
            address=address,
        )
    )

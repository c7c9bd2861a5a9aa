"""Rules of the webhooks package: endpoints, who receives which event, signed deliveries with
retries, and the log of every attempt.

An event reaches an endpoint only when the endpoint's organization could read what the event
is about: public market events (a listing published, an auction's bids) go to every subscriber,
a deal's events to its two parties, a claim's and a reward's to the beneficiary, a filing's to
the taxpayer. Deliveries are rows (one per endpoint and event, so relaying an event twice queues
it once); the worker leases due rows, sends outside any transaction, and records the attempt.
A receiver gets each event at least once and deduplicates on its `id`.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.brokers import queries as brokers
from app.core.audit import changed_fields
from app.core.auth import MANAGERS, Principal
from app.core.db import one_or_not_found
from app.core.errors import NotFound, ValidationFailed
from app.core.outbox import OutboxEvent, record_event
from app.core.pagination import PageParams, paginate
from app.deals import queries as deals
from app.tax import queries as tax
from app.webhooks import signing
from app.webhooks.models import (
    DeliveryAttempt,
    DeliveryState,
    EndpointState,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.webhooks.schemas import EVENT_TYPES, EndpointCreate, EndpointUpdate

logger = structlog.get_logger(__name__)

RETRY_PERIOD = timedelta(days=3)
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
"""Waits after the 1st, 2nd, … failed attempt; then every 12 hours until the retry period."""
LEASE = timedelta(minutes=2)
"""A leased delivery is due again after this long: a worker that died mid-send loses nothing."""
EXCERPT = 500

PUBLIC_EVENTS = frozenset(
    {
        "listing.published",
        "listing.closed",
        "auction.opened",
        "auction.bid_placed",
        "auction.extended",
        "auction.closed",
        "challenge.published",
        "challenge.awarded",
        "challenge.award_revoked",
        "challenge.concluded",
        "challenge.closed",
    }
)
PUBLIC_FIELDS = frozenset(
    {
        "listing_id", "auction_id", "price", "bids", "ends_at", "outcome",
        "challenge_id", "title", "field_code", "budget_min", "budget_max", "prize",
        "proposals_due_at", "winner_organization_id", "rank", "publicity_ends_at",
    }
)  # fmt: skip
"""What a public event may carry: never a bidder, a buyer or a reserve."""


# --- endpoints -------------------------------------------------------------------------------


def _require_manager(principal: Principal, organization_id: uuid.UUID) -> None:
    """Owners and admins manage endpoints, and so does an API key of the organization: only they
    can make one, and its `webhooks:write` scope is theirs to grant. NotFound for outsiders,
    Forbidden for plain members."""
    principal.require_member(organization_id)
    if principal.api_key_id is None:
        principal.require_role(organization_id, *MANAGERS)


def _check_url(url: str, *, allow_private: bool) -> None:
    """HTTPS to a public host: deliveries must not be aimed at our own network (SSRF)."""
    if len(url) > 2000:  # the stored form: IDNA encoding can lengthen what was sent
        raise ValidationFailed("body.url", "string_too_long", max_length=2000)
    parts = urlsplit(url)
    if parts.scheme != "https" and not allow_private:
        raise ValidationFailed("body.url", "webhook_url_not_https")
    host = (parts.hostname or "").lower()
    if allow_private:
        return
    if host in {"localhost"} or host.endswith((".localhost", ".internal", ".local")):
        raise ValidationFailed("body.url", "webhook_url_private")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise ValidationFailed("body.url", "webhook_url_private")


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    body: EndpointCreate,
    *,
    allow_private: bool,
    now: datetime,
) -> WebhookEndpoint:
    """Register an endpoint for the caller's organization (owners and admins, or an API key of
    it). Its secret is readable on the returned object this once. Raises NotFound (not your
    organization), Forbidden, ValidationFailed(url)."""
    if body.organization_id is not None and not principal.is_member_of(body.organization_id):
        raise NotFound()
    owner = principal.acting_for(body.organization_id)
    _require_manager(principal, owner)
    _check_url(str(body.url), allow_private=allow_private)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        organization_id=owner,
        url=str(body.url),
        description=body.description,
        event_types=sorted(set(body.event_types)),
        secret=signing.new_secret(),
        state=EndpointState.active,
        created_by_id=principal.user_id,
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    await record_event(session, "webhook_endpoint.created", _endpoint_payload(endpoint))
    return endpoint


def _endpoint_payload(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What an endpoint's change announces (to the audit trail): never its secrets."""
    return {
        "webhook_endpoint_id": str(endpoint.id),
        "organization_id": str(endpoint.organization_id),
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "state": str(endpoint.state),
    }


async def get_endpoint_for(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """An endpoint of one of the caller's organizations. Raises NotFound."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.organization_id.in_(list(principal.memberships)),
    )
    return await one_or_not_found(session, query, lock=lock)


async def list_endpoints(session: AsyncSession, principal: Principal) -> list[WebhookEndpoint]:
    """The endpoints of the caller's organizations, oldest first."""
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id.in_(list(principal.memberships)))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(rows.all())


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    *,
    allow_private: bool,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description, or re-enable it. Raises NotFound,
    Forbidden, ValidationFailed(url)."""
    endpoint = await get_endpoint_for(session, principal, endpoint_id, lock=True)
    _require_manager(principal, endpoint.organization_id)
    before = _endpoint_payload(endpoint)
    if body.url is not None:
        _check_url(str(body.url), allow_private=allow_private)
        endpoint.url = str(body.url)
    if body.event_types is not None:
        endpoint.event_types = sorted(set(body.event_types))
    if body.description is not None:
        endpoint.description = body.description
    if body.state is not None:
        endpoint.state = body.state
        endpoint.disabled_reason = None if body.state == EndpointState.active else "by_owner"
    after = _endpoint_payload(endpoint)
    await record_event(
        session, "webhook_endpoint.updated", after, before=changed_fields(before, after)[1]
    )
    return endpoint


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> None:
    """Remove an endpoint and its delivery log. Raises NotFound, Forbidden."""
    endpoint = await get_endpoint_for(session, principal, endpoint_id, lock=True)
    _require_manager(principal, endpoint.organization_id)
    await record_event(session, "webhook_endpoint.deleted", _endpoint_payload(endpoint))
    await session.delete(endpoint)


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    *,
    previous_valid_for: timedelta,
    now: datetime,
) -> WebhookEndpoint:
    """A new secret; deliveries are signed with both until the old one expires, so a receiver
    switches without missing an event. Raises NotFound, Forbidden."""
    endpoint = await get_endpoint_for(session, principal, endpoint_id, lock=True)
    _require_manager(principal, endpoint.organization_id)
    endpoint.previous_secret = endpoint.secret if previous_valid_for else None
    endpoint.previous_secret_expires_at = now + previous_valid_for if previous_valid_for else None
    endpoint.secret = signing.new_secret()
    await record_event(session, "webhook_endpoint.secret_rotated", _endpoint_payload(endpoint))
    return endpoint


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)
    return secrets


# --- who receives an event -------------------------------------------------------------------


async def audience(session: AsyncSession, event: OutboxEvent) -> set[uuid.UUID] | None:
    """The organizations that may receive an event, or None for a public one."""
    topic, payload = event.topic, event.payload
    if topic in PUBLIC_EVENTS:
        return None
    named = {
        uuid.UUID(payload[key])
        for key in (
            "organization_id",
            "owner_organization_id",
            "seller_organization_id",
            "buyer_organization_id",
        )
        if payload.get(key)
    }
    if topic in {"claim.approved", "reward.computed"}:
        return await brokers.claim_beneficiaries(session, uuid.UUID(payload["claim_id"]))
    if topic == "payout.paid" and "reward_payout_id" in payload:
        return await brokers.payout_recipients(session, uuid.UUID(payload["reward_payout_id"]))
    if topic.startswith("filing."):
        return {await tax.taxpayer_of(session, uuid.UUID(payload["filing_id"]))}
    if not named and payload.get("deal_id"):
        seller, buyer = await deals.parties_of(session, uuid.UUID(payload["deal_id"]))
        named = {seller} if topic == "payout.paid" else {seller, buyer}
    return named


def delivery_body(event: OutboxEvent, event_type: str) -> dict[str, Any]:
    data = event.payload
    if event_type in PUBLIC_EVENTS:
        data = {key: value for key, value in data.items() if key in PUBLIC_FIELDS}
    return {
        "id": str(event.id),
        "type": event_type,
        "created_at": event.created_at.isoformat(),
        "data": data,
    }


async def queue_deliveries(session: AsyncSession, event: OutboxEvent, now: datetime) -> int:
    """Queue an event for every active endpoint that subscribed to its type and may see it;
    queuing the same event again adds nothing. Returns how many were queued."""
    event_type = event.topic
    if event_type not in EVENT_TYPES:
        return 0
    endpoints = list(
        (
            await session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.state == EndpointState.active,
                    WebhookEndpoint.event_types.contains([event_type]),
                )
            )
        ).all()
    )
    if not endpoints:
        return 0
    allowed = await audience(session, event)
    rows = [
        {
            "id": uuid.uuid4(),
            "endpoint_id": endpoint.id,
            "event_id": event.id,
            "event_type": event_type,
            "body": delivery_body(event, event_type),
            "state": DeliveryState.pending,
            "attempts": 0,
            "next_attempt_at": None,
            "created_at": now,
        }
        for endpoint in endpoints
        if allowed is None or endpoint.organization_id in allowed
    ]
    if not rows:
        return 0
    result = await session.execute(
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(WebhookDelivery.id)
    )
    return len(result.all())


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leased:
    """A delivery taken by one worker for one attempt."""

    delivery_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes
    event_id: str
    event_type: str


async def next_attempt_after(session: AsyncSession, after: datetime) -> datetime | None:
    """The first retry of a pending delivery to an active endpoint later than `after`."""
    return await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.state == DeliveryState.pending,
            WebhookDelivery.next_attempt_at > after,
            WebhookEndpoint.state == EndpointState.active,
        )
    )


async def lease_due(session: AsyncSession, now: datetime, *, limit: int = 50) -> list[Leased]:
    """Take due deliveries of active endpoints (SKIP LOCKED: many workers share the queue) and
    push their next attempt past the lease, so a worker that dies mid-send leaves them due."""
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.state == DeliveryState.pending,
                or_(
                    WebhookDelivery.next_attempt_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now,
                ),
                WebhookEndpoint.state == EndpointState.active,
            )
            .order_by(WebhookDelivery.next_attempt_at.asc().nulls_first())
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
    ).all()
    leased = []
    for delivery, endpoint in rows:
        delivery.next_attempt_at = now + LEASE
        leased.append(
            Leased(
                delivery.id,
                endpoint.url,
                active_secrets(endpoint, now),
                json.dumps(delivery.body, ensure_ascii=False, separators=(",", ":")).encode(),
                str(delivery.event_id),
                delivery.event_type,
            )
        )
    return leased


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(http: httpx.AsyncClient, leased: Leased, *, timestamp: int) -> Outcome:
    """POST one delivery, signed; never raises for the receiver's failures."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "techexchange-webhooks/1",
        signing.HEADER: signing.signature_header(leased.body, leased.secrets, timestamp),
        "Techx-Event-Id": leased.event_id,
        "Techx-Event-Type": leased.event_type,
    }
    started = time.perf_counter()
    try:
        response = await http.post(
            leased.url, content=leased.body, headers=headers, follow_redirects=False
        )
    except httpx.HTTPError as error:
        latency = round((time.perf_counter() - started) * 1000)
        return Outcome(None, latency, None, f"{type(error).__name__}: {error}"[:EXCERPT])
    latency = round((time.perf_counter() - started) * 1000)
    return Outcome(response.status_code, latency, response.text[:EXCERPT], None)


def next_attempt(first_attempted_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures, or None once the retry period is over."""
    delay = RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
    due = now + delay
    return due if due < first_attempted_at + RETRY_PERIOD else None


async def record_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, outcome: Outcome, now: datetime
) -> WebhookDelivery | None:
    """Log the attempt and move the delivery on: delivered, retried later, or failed after the
    retry period — which disables its endpoint with a notice to the organization."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:  # the endpoint was deleted meanwhile
        return None
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
        )
    )
    delivery.attempts += 1
    delivery.first_attempted_at = delivery.first_attempted_at or now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.succeeded:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = (
            DeliveryState.succeeded,
            now,
            None,
        )
        return delivery
    delivery.next_attempt_at = next_attempt(delivery.first_attempted_at, delivery.attempts, now)
    if delivery.next_attempt_at is None:
        delivery.state = DeliveryState.failed
        await _disable(session, delivery.endpoint_id, now)
    return delivery


async def _disable(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> None:
    disabled = await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.state == EndpointState.active)
        .values(state=EndpointState.disabled, disabled_reason="persistent_failure")
        .returning(WebhookEndpoint.organization_id)
    )
    if disabled is not None:
        logger.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint_id))
        await record_event(
            session,
            "webhook_endpoint.disabled",
            {
                "endpoint_id": str(endpoint_id),
                "organization_id": str(disabled),
                "reason": "persistent_failure",
                "at": now.isoformat(),
            },
        )


# --- the delivery log ------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    params: PageParams,
    *,
    state: DeliveryState | None = None,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    """An endpoint's deliveries, newest first. Raises NotFound."""
    await get_endpoint_for(session, principal, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    return await paginate(
        session, query, params, key=WebhookDelivery.created_at, row_id=WebhookDelivery.id
    )


async def get_delivery_for(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, list[DeliveryAttempt]]:
    """A delivery of one of the caller's endpoints, with its attempts. Raises NotFound."""
    await get_endpoint_for(session, principal, endpoint_id)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )
    if delivery is None:
        raise NotFound()
    attempts = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery.id)
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    )
    return delivery, list(attempts.all())


async def replay_delivery(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Send a delivery again (same event id and body), whatever became of it: one more attempt
    now, and retries while its retry period lasts. Raises NotFound, Forbidden."""
    endpoint = await get_endpoint_for(session, principal, endpoint_id)
    _require_manager(principal, endpoint.organization_id)
    delivery, _ = await get_delivery_for(session, principal, endpoint_id, delivery_id)
    await session.refresh(delivery, with_for_update=True)
    delivery.state = DeliveryState.pending
    delivery.next_attempt_at = None
    return delivery

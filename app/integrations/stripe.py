"""Stripe's events about PaymentIntents: stored when they arrive, applied by the worker to what
they concern, a deposit (auctions) or a milestone payment (payments, and its contract through
`integrations.payments`).

The webhook only verifies, stores and answers, so a slow database or a long contract never
times Stripe out; the event's application is an outbox subscriber (`integrations/tasks.py`),
retried by the relay until it succeeds. Stripe's own retries (and ours) are harmless: an event
id is stored once and applied once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions import deposits as auctions
from app.auctions import queries as auction_queries
from app.core.errors import DomainError, NotFound
from app.core.outbox import record_event
from app.integrations.payments import payment_arrived
from app.payments.models import Payment, PaymentState, StripeEvent
from app.payments.stripe_provider import verify_event

AUTHORIZED = "payment_intent.amount_capturable_updated"


SUCCEEDED = "payment_intent.succeeded"


CANCELED = "payment_intent.canceled"


FAILED = "payment_intent.payment_failed"


HANDLED = frozenset({AUTHORIZED, SUCCEEDED, CANCELED, FAILED})

RECEIVED_TOPIC = "stripe.event_received"
"""The outbox topic that has the worker apply a stored event (not offered to webhooks)."""

MATCH_WINDOW = timedelta(days=3)
"""How long an event about a PaymentIntent we do not know is tried again: Stripe retries an
undelivered event for up to three days, so our side has committed the intent by then or never
will (an intent of another integration on the same account)."""


class UnhandledEvent(DomainError):
    status, code = 400, "unhandled_event"
    detail_code = "detail.unhandled_event"


async def receive_stripe_event(
    session: AsyncSession, payload: bytes, signature: str | None, *, secret: str, now: datetime
) -> Literal["received", "duplicate"]:
    """Store a signed Stripe event for the worker to apply: "received", or "duplicate" for an
    event id stored before. Raises InvalidSignature (bad or stale), UnhandledEvent (a type we
    did not subscribe to); either stores nothing."""
    event = verify_event(payload, signature, secret)
    if event.type not in HANDLED:
        raise UnhandledEvent(type=event.type)
    first = await session.scalar(
        insert(StripeEvent)
        .values(id=event.id, type=event.type, object=event.object, received_at=now)
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)
    )
    if first is None:
        return "duplicate"
    await record_event(session, RECEIVED_TOPIC, {"stripe_event_id": event.id})
    return "received"


async def apply_stripe_event(session: AsyncSession, event_id: str, *, now: datetime) -> str | None:
    """Apply a stored event once, locked: "applied", "unmatched" (its PaymentIntent is still
    unknown after `MATCH_WINDOW`, so it is set aside), or None when it was applied already.

    Each effect re-reads our state and moves it only forward, so events applied late or out of
    order change nothing twice: an authorization holds a pending deposit; a success marks a
    pending payment received (or holds a pending deposit); a cancellation drops what is still
    pending. Raises NotFound for a PaymentIntent we do not know yet (our side may not have
    committed it), which leaves the event to be tried again.
    """
    event = await session.scalar(
        select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
    )
    if event is None or event.applied_at is not None:
        return None
    reference = str(event.object.get("id", ""))
    deposit = await auction_queries.deposit_by_reference(session, reference)
    payment = await session.scalar(
        select(Payment).where(Payment.provider_reference == reference).with_for_update()
    )
    if deposit is None and payment is None:
        if now - event.received_at < MATCH_WINDOW:
            raise NotFound()
        event.applied_at, event.outcome = now, "unmatched"
        return event.outcome
    if deposit is not None:
        if event.type in {AUTHORIZED, SUCCEEDED}:
            await auctions.mark_deposit_held(session, deposit, now=now, confirmed_by_id=None)
        elif event.type == CANCELED:
            await auctions.cancel_pending_deposit(session, deposit, now=now)
    if payment is not None:
        if event.type == SUCCEEDED:
            await payment_arrived(session, payment, now=now, confirmed_by_id=None)
        elif event.type == CANCELED and payment.state == PaymentState.pending:
            payment.state = PaymentState.cancelled
    event.applied_at, event.outcome = now, "applied"
    return event.outcome

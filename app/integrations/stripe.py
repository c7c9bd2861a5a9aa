"""Stripe's events about PaymentIntents, applied to what they concern: a deposit (auctions) or
a milestone payment (payments, and its contract through `integrations.payments`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions import queries as auction_queries
from app.auctions import service as auctions
from app.core.errors import DomainError, NotFound
from app.integrations.payments import payment_arrived
from app.payments.models import Payment, PaymentState, StripeEvent
from app.payments.stripe_provider import verify_event

AUTHORIZED = "payment_intent.amount_capturable_updated"


SUCCEEDED = "payment_intent.succeeded"


CANCELED = "payment_intent.canceled"


FAILED = "payment_intent.payment_failed"


HANDLED = frozenset({AUTHORIZED, SUCCEEDED, CANCELED, FAILED})


class UnhandledEvent(DomainError):
    status, code = 400, "unhandled_event"
    detail_code = "detail.unhandled_event"


async def handle_stripe_webhook(
    session: AsyncSession, payload: bytes, signature: str | None, *, secret: str, now: datetime
) -> str:
    """Apply a signed Stripe event once: "applied", or "duplicate" for an event id seen before.

    Each handler re-reads our state and moves it only forward, so events arriving late or out
    of order change nothing twice: an authorization holds a pending deposit; a success marks a
    pending payment received (or holds a pending deposit); a cancellation drops what is still
    pending. Raises InvalidSignature (bad or stale), UnhandledEvent (a type we did not
    subscribe to), NotFound (a PaymentIntent we do not know: Stripe retries, by which time our
    side may have committed it). A failure stores nothing, so the retry is applied in full.
    """
    event = verify_event(payload, signature, secret)
    if event.type not in HANDLED:
        raise UnhandledEvent(type=event.type)
    first = await session.scalar(
        insert(StripeEvent)
        .values(id=event.id, type=event.type, received_at=now)
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)
    )
    if first is None:
        return "duplicate"
    reference = str(event.object.get("id", ""))
    deposit = await auction_queries.deposit_by_reference(session, reference)
    payment = await session.scalar(
        select(Payment).where(Payment.provider_reference == reference).with_for_update()
    )
    if deposit is None and payment is None:
        raise NotFound()
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
    return "applied"

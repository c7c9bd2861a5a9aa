"""The integrations' subscriber: a stored Stripe event is applied by the worker, retried by the
relay (its error noted on the outbox row) until it applies or is set aside."""

from __future__ import annotations

from app.core.jobs import clock, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.integrations import stripe

subscribers = Subscribers()


@subscribers.on(stripe.RECEIVED_TOPIC)
async def apply_stripe_event(event: OutboxEvent) -> None:
    """Apply the Stripe event in a transaction of its own; raising leaves it to the next relay."""
    async with sessionmaker()() as session, session.begin():
        await stripe.apply_stripe_event(session, event.payload["stripe_event_id"], now=clock.now())

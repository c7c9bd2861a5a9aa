"""The brokers' subscriber: a deal's rewards (奖补) follow its contract, money and claims."""

from __future__ import annotations

import uuid

from app.brokers import service as rewards
from app.core.jobs import clock, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers

subscribers = Subscribers()


@subscribers.on(
    "contract.registered",
    "contract.registration_changed",
    "payment.received",
    "payment.refunded",
    "claim.approved",
)
async def compute_rewards(event: OutboxEvent) -> None:
    """Recompute the deal's rewards when its contract is registered, money moves or a claim is
    approved (idempotent: equal results append nothing)."""
    async with sessionmaker()() as session, session.begin():
        await rewards.compute_rewards(session, uuid.UUID(event.payload["deal_id"]), now=clock.now())

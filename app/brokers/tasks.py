"""The brokers' subscribers: rewards (奖补) follow a deal's contract, money and claims, and a
transfer agency's post-subsidy its evaluation."""

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
)
async def compute_rewards(event: OutboxEvent) -> None:
    """Recompute the deal's rewards when its contract is registered or money moves
    (idempotent: equal results append nothing)."""
    async with sessionmaker()() as session, session.begin():
        await rewards.compute_rewards(session, uuid.UUID(event.payload["deal_id"]), now=clock.now())


@subscribers.on("claim.approved", "claim.shared")
async def compute_approved_claim(event: OutboxEvent) -> None:
    """Compute a claim's reward once the reviewers approved it, or an agency's split of it
    among its brokers changed."""
    async with sessionmaker()() as session, session.begin():
        await rewards.compute_claim(session, uuid.UUID(event.payload["claim_id"]), now=clock.now())


@subscribers.on("agency.evaluated")
async def follow_agency_evaluation(event: OutboxEvent) -> None:
    """A transfer agency's (re-)evaluation moves its post-subsidy of that year."""
    async with sessionmaker()() as session, session.begin():
        await rewards.compute_agency_claims(
            session,
            year=int(event.payload["year"]),
            organization_id=uuid.UUID(event.payload["organization_id"]),
            now=clock.now(),
        )

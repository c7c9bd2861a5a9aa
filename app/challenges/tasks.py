"""The challenges' jobs: an award stands when its publicity period ends (公示期满) with no
objection open — scheduled when the award is published, and swept every five minutes in case a
scheduled run was lost or late, or the last objection was decided after the period."""

from __future__ import annotations

import uuid
from datetime import datetime

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.challenges import awards
from app.core.jobs import clock, each_in_its_own_transaction, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers

jobs = procrastinate.Blueprint()
subscribers = Subscribers()
logger = structlog.get_logger(__name__)


@jobs.task(name="confirm_award", queue="challenges", retry=5)
async def confirm_award(award_id: str) -> bool:
    """Let one award stand when its publicity ends (scheduled at the award)."""
    async with sessionmaker()() as session, session.begin():
        return await awards.confirm_award(session, uuid.UUID(award_id), now=clock.now())


@jobs.periodic(cron="*/5 * * * *", periodic_id="sweep_award_publicity")
@jobs.task(name="sweep_award_publicity", queue="challenges", queueing_lock="sweep_awards")
async def sweep_award_publicity(timestamp: int) -> int:
    """Let every award whose publicity has ended with nothing open stand."""
    return await confirm_due_awards(sessionmaker(), clock.now())


async def confirm_due_awards(maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Let each due award stand, one transaction each."""
    return await each_in_its_own_transaction(
        maker,
        lambda session: awards.due_awards(session, now),
        lambda session, award_id: awards.confirm_award(session, award_id, now=now),
    )


@subscribers.on("challenge.awarded")
async def schedule_award_confirmation(event: OutboxEvent) -> None:
    """Schedule the award's confirmation at the end of its publicity. The queueing lock keeps
    one pending run per award if the event is relayed twice."""
    award_id = event.payload["award_id"]
    try:
        await confirm_award.configure(
            schedule_at=datetime.fromisoformat(event.payload["publicity_ends_at"]),
            queueing_lock=f"confirm_award:{award_id}",
        ).defer_async(award_id=award_id)
    except AlreadyEnqueued:
        logger.info("award_confirmation_already_scheduled", award_id=award_id)

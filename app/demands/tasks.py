"""The demands' subscriber: a newly published listing is told to the saved searches and open
demands (技术需求) it matches."""

from __future__ import annotations

import uuid

from app.core.jobs import sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.demands import service as demands
from search.service import documents_for

subscribers = Subscribers()


@subscribers.on("listing.published")
async def tell_saved_searches(event: OutboxEvent) -> None:
    """Record `saved_search.matched` for the saved searches, and `demand.matched` for the open
    demands, a newly published listing matches. Runs once per relay of the event; a replay may
    tell twice (at-least-once)."""
    listing_id = uuid.UUID(event.payload["listing_id"])
    async with sessionmaker()() as session, session.begin():
        documents = await documents_for(session, [listing_id])
        for document in documents:
            await demands.notify_saved_searches(session, document)
            await demands.notify_matching_demands(session, document)

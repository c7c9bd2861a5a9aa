"""The search index follows the listings: each event that changes what a listing shows in
search brings its document up to date (index or delete)."""

from __future__ import annotations

import uuid

from app.core.config import get_settings
from app.core.jobs import database_url, per_database, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from search.backend import SearchBackend
from search.service import backend_for, sync_listings

subscribers = Subscribers()


def search_backend() -> SearchBackend:
    """The jobs' search backend, one per database for the process."""
    return per_database(
        "search",
        lambda: backend_for(
            get_settings().model_copy(update={"database_url": database_url()}), sessionmaker()
        ),
    )


@subscribers.on(
    "listing.published",
    "listing.withdrawn",
    "listing.closed",
    "auction.created",
    "auction.opened",
    "auction.settled",
    "auction.failed",
    "auction.cancelled",
)
async def sync_search_index(event: OutboxEvent) -> None:
    """Bring the listing's search document up to date (index or delete). Raising leaves the
    event to be relayed again, so the index catches up after an outage."""
    listing_id = uuid.UUID(event.payload["listing_id"])
    async with sessionmaker()() as session:
        await sync_listings(session, search_backend(), [listing_id])

"""Helpers for tests that publish listings and run the worker's relay."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.auth import PlatformRole
from app.core.clock import FrozenClock
from app.listings.models import ListingState
from tests.factories import MarketFactory
from workers import relay
from workers.app import worker_app
from workers.registry import SUBSCRIBERS


async def relay_events(sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock) -> int:
    """Run the outbox relay as the worker does (with the job queue open)."""
    async with worker_app.open_async():
        return await relay.relay_pending(sessionmaker, clock.now, SUBSCRIBERS)


async def publish_listing(client: httpx.AsyncClient, factory: MarketFactory, **result: Any) -> str:
    """A university's listing of a result (with `result` overrides), approved by a reviewer
    through the API; returns the listing id."""
    university = await factory.organization(OrganizationKind.university)
    reviewer = await factory.staff(PlatformRole.reviewer)
    listing = await factory.listing(
        university,
        state=ListingState.pending_review,
        result=await factory.result(university, **result),
    )
    response = await client.post(f"/v1/listings/{listing.id}/approve", headers=reviewer.headers)
    assert response.status_code == 200, response.text
    return str(listing.id)

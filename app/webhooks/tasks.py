"""The webhooks' jobs: every relayed event is queued for the endpoints subscribed to it, and
due deliveries are sent (every minute, and at once when some are queued)."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.config import get_settings
from app.core.jobs import clock, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers
from app.webhooks import service as webhooks
from app.webhooks.addresses import PublicAddressTransport

jobs = procrastinate.Blueprint()
subscribers = Subscribers()


@subscribers.on("*")
async def queue_webhook_deliveries(event: OutboxEvent) -> None:
    """Queue the event for the endpoints subscribed to it (once per endpoint, however often the
    relay runs it), then have them sent."""
    async with sessionmaker()() as session, session.begin():
        queued = await webhooks.queue_deliveries(session, event, clock.now())
    if queued:
        # A run already queued takes these too.
        with contextlib.suppress(AlreadyEnqueued):
            await deliver_webhooks.configure(queueing_lock="deliver_webhooks").defer_async(
                timestamp=0
            )


@jobs.periodic(cron="* * * * *", periodic_id="deliver_webhooks")
@jobs.task(name="deliver_webhooks", queue="webhooks", queueing_lock="deliver_webhooks")
async def deliver_webhooks(timestamp: int) -> int:
    """Send the due webhook deliveries (every minute, and when events are queued)."""
    async with webhook_client(allow_private=get_settings().webhook_allow_private_urls) as http:
        return await send_due_webhooks(sessionmaker(), http, clock)


def webhook_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The client deliveries are sent with: a receiver gets ten seconds to answer, and only a
    public address is reached, checked at each send (`addresses`), unless `allow_private`
    (the setting `WEBHOOK_ALLOW_PRIVATE_URLS`) lets a development setup reach its own network."""
    if allow_private:
        return httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0),
        transport=PublicAddressTransport(httpx.AsyncHTTPTransport()),
    )


async def send_due_webhooks(
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    batch_size: int = 50,
) -> int:
    """Lease due deliveries in a short transaction, send them concurrently outside it, and
    record each attempt in its own; repeat until none is due. Returns the attempts made.
    Signatures carry the wall time, which receivers check against their own clocks."""
    attempts = 0
    while True:
        async with maker() as session, session.begin():
            leased = await webhooks.lease_due(session, clock.now(), limit=batch_size)
        if not leased:
            return attempts
        outcomes = await asyncio.gather(
            *(webhooks.send(http, item, timestamp=int(clock.wall().timestamp())) for item in leased)
        )
        for item, outcome in zip(leased, outcomes, strict=True):
            async with maker() as session, session.begin():
                await webhooks.record_attempt(session, item.delivery_id, outcome, clock.now())
        attempts += len(leased)

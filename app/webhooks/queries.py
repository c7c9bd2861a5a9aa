"""Reads of the webhooks package that other packages may use (below its service)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.webhooks.models import EndpointState, WebhookDelivery, WebhookEndpoint


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    """Deliveries by state: pending (waiting for an attempt), succeeded, failed (given up)."""
    rows = await session.execute(
        select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
    )
    return {state.value: int(count) for state, count in rows}


async def disabled_endpoints(session: AsyncSession) -> int:
    """Endpoints disabled, by their owners or after failing for the retry period."""
    count = await session.scalar(
        select(func.count()).where(WebhookEndpoint.state == EndpointState.disabled)
    )
    return int(count or 0)

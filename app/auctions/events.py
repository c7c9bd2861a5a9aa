"""An auction's live events: rows numbered per auction (the SSE ids), and a `NOTIFY` at commit
that wakes every API process's streams (`live.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auctions.models import (
    Auction,
    AuctionEvent,
    AuctionState,
)
from app.core.outbox import record_event

NOTIFY_CHANNEL = "auction_events"


async def emit(
    session: AsyncSession, auction: Auction, kind: str, data: dict[str, Any], now: datetime
) -> None:
    """Add a live event; call `notify` once after the last event of the transaction."""
    auction.event_sequence += 1
    session.add(
        AuctionEvent(
            auction_id=auction.id,
            sequence=auction.event_sequence,
            kind=kind,
            data=data,
            at=now,
        )
    )


async def notify(session: AsyncSession, auction: Auction) -> None:
    # NOTIFY is delivered at commit, and only if the transaction commits.
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": NOTIFY_CHANNEL, "payload": f"{auction.id}:{auction.event_sequence}"},
    )


async def open_if_started(session: AsyncSession, auction: Auction, now: datetime) -> bool:
    if auction.state != AuctionState.scheduled or now < auction.starts_at:
        return False
    auction.state = AuctionState.open
    await emit(session, auction, "opened", {"state": "open"}, now)
    await record_event(session, "auction.opened", opened_payload(auction))
    return True


def opened_payload(auction: Auction) -> dict[str, Any]:
    """The outbox payload of an auction's opening."""
    return {
        "auction_id": str(auction.id),
        "listing_id": str(auction.listing_id),
        "ends_at": auction.ends_at.isoformat(),
    }

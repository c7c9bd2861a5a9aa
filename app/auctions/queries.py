"""Reads of the auctions package, below its services: an auction as a bid finds it.

The live part of the book (see `engine.live_part`) and everything a bid decides on come in one
statement, from the read pool without a lock or in a session's transaction; what it returns
are transient objects, never written by a flush (bids are stored by `bidding`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auctions import engine
from app.auctions.increments import IncrementGrid, IncrementTable
from app.auctions.models import (
    Auction,
    AuctionEvent,
    AuctionState,
    Bid,
    Deposit,
    ProxyBid,
)
from app.core.db import ReadModel, one_or_not_found
from app.core.errors import (
    NotFound,
)
from app.core.idempotency import IdempotencyKey
from app.core.reads import PreparedRead, ReadPool, Transient


def increments_of(auction: Auction) -> IncrementTable:
    data = auction.increments
    return IncrementTable(
        steps=tuple((int(bound), int(step)) for bound, step in data["steps"]),
        above=int(data["above"]),
        # Auctions made before the grid was a term bid on the default one.
        grid=IncrementGrid(data.get("grid", IncrementGrid.from_price)),
    )


def standing_select() -> Select[Any]:
    """An auction as a bid finds it, in one statement: the row and its version (`xmin`, which
    every change of the row renews), the bidder's deposit, and the live part of the book (see
    `engine.live_part`) — the last bid, the leader's best own bid when the last was a proxy's,
    the proxies still able to bid, and the paddles of those who may bid next — and the row of
    the bidder's Idempotency-Key if it was used before (a bid claims its key in the statement
    that stores it)."""
    last = (
        select(Bid.organization_id, Bid.amount_fen, Bid.sequence, Bid.by_proxy)
        .where(Bid.auction_id == Auction.id)
        .order_by(Bid.sequence.desc())
        .limit(1)
        .lateral("last_bid")
    )
    own = aliased(Bid)
    best_own = (
        select(own.amount_fen, own.sequence)
        .where(
            own.auction_id == Auction.id,
            own.organization_id == last.c.organization_id,
            own.by_proxy.is_(False),
            last.c.by_proxy,
        )
        .order_by(own.amount_fen.desc())
        .limit(1)
        .lateral("best_own")
    )
    proxy_deposit = aliased(Deposit)
    proxies = (
        select(
            func.json_agg(
                func.json_build_array(
                    ProxyBid.organization_id,
                    ProxyBid.maximum_fen,
                    ProxyBid.sequence,
                    proxy_deposit.paddle,
                ),
                type_=JSON,
            ).label("proxies")
        )
        .select_from(ProxyBid)
        .outerjoin(
            proxy_deposit,
            and_(
                proxy_deposit.auction_id == ProxyBid.auction_id,
                proxy_deposit.organization_id == ProxyBid.organization_id,
            ),
        )
        .where(
            ProxyBid.auction_id == Auction.id,
            ProxyBid.maximum_fen >= func.coalesce(last.c.amount_fen, 0),
        )
        .lateral("proxies")
    )
    used_key = (
        select(IdempotencyKey)
        .where(
            IdempotencyKey.owner == bindparam("key_owner", type_=String),
            IdempotencyKey.key == bindparam("key", type_=String),
        )
        .lateral("used_key")
    )
    mine = aliased(Deposit)
    leader = aliased(Deposit)
    return (
        select(
            *(column.label(f"auction_{column.key}") for column in Auction.__table__.columns),
            literal_column("auctions.xmin").label("version"),
            *(
                getattr(mine, column.key).label(f"deposit_{column.key}")
                for column in Deposit.__table__.columns
            ),
            last.c.organization_id.label("last_bidder"),
            last.c.amount_fen.label("last_amount"),
            last.c.sequence.label("last_sequence"),
            last.c.by_proxy.label("last_by_proxy"),
            best_own.c.amount_fen.label("best_own_amount"),
            best_own.c.sequence.label("best_own_sequence"),
            proxies.c.proxies,
            leader.paddle.label("leader_paddle"),
            *(column.label(f"key_{column.key}") for column in used_key.c),
        )
        .select_from(Auction)
        .outerjoin(
            mine, and_(mine.auction_id == Auction.id, mine.organization_id == bindparam("bidder"))
        )
        .outerjoin(last, true())
        .outerjoin(best_own, true())
        .outerjoin(proxies, true())
        .outerjoin(used_key, true())
        .outerjoin(
            leader,
            and_(leader.auction_id == Auction.id, leader.organization_id == last.c.organization_id),
        )
        .where(Auction.id == bindparam("auction_id"))
    )


_STANDING_SELECT = standing_select()
_STANDING = PreparedRead(_STANDING_SELECT)


@dataclass
class Standing:
    """An auction as one read found it (transient objects: changes go through `_store`)."""

    auction: Auction
    version: int
    """The row's `xmin` when read: a write guarded by it lands only if nothing changed since."""
    deposit: Deposit | None
    """The bidder's deposit on this auction, if any."""
    book: engine.Book
    paddles: dict[Any, int | None]
    """The paddles of the bidder, the leader and the proxies' owners (all who may bid next)."""
    used_key: IdempotencyKey | None = None
    """The row of the Idempotency-Key the read was asked about, if that key was used before."""


_auction = Transient(Auction, prefix="auction_")
_deposit = Transient(Deposit, prefix="deposit_")
_used_key = Transient(IdempotencyKey, prefix="key_")


def _standing_of(row: Mapping[str, Any]) -> Standing:
    auction = _auction(row)
    deposit = _deposit(row) if row["deposit_id"] is not None else None
    book = engine.Book(
        start_price=auction.start_price_fen,
        increments=increments_of(auction),
        sequence=auction.sequence,
    )
    paddles: dict[Any, int | None] = {}
    if row["last_bidder"] is not None:
        leader = row["last_bidder"]
        if row["best_own_amount"] is not None:
            # After a proxy's bid, the leader's best own one still bounds what they pay.
            book.bids.append(
                engine.Bid(leader, row["best_own_amount"], row["best_own_sequence"], False)
            )
        book.bids.append(
            engine.Bid(leader, row["last_amount"], row["last_sequence"], row["last_by_proxy"])
        )
        paddles[leader] = row["leader_paddle"]
    for organization, maximum, sequence, paddle in row["proxies"] or ():
        owner = uuid.UUID(organization)
        book.proxies[owner] = engine.Proxy(maximum, sequence)
        paddles[owner] = paddle
    if deposit is not None:
        paddles[deposit.organization_id] = deposit.paddle
    used_key = _used_key(row) if row["key_owner"] is not None else None
    return Standing(auction, row["version"], deposit, book, paddles, used_key)


async def standing(
    source: ReadPool | AsyncSession,
    auction_id: uuid.UUID,
    bidder: uuid.UUID | None,
    key: tuple[str, str] | None = None,
) -> Standing:
    """The auction as it stands: from the read pool (no transaction, no lock: a bid computed
    on it is stored only if the auction has not changed since), or in a session's
    transaction; with the row of `key` (owner, key) if it was used. Raises NotFound."""
    key_owner, key_value = key or (None, None)
    values = {"auction_id": auction_id, "bidder": bidder, "key_owner": key_owner, "key": key_value}
    row: Mapping[str, Any] | None
    if isinstance(source, ReadPool):
        row = await source.one(_STANDING, **values)
    else:
        result = await source.execute(_STANDING_SELECT, values)
        row = result.mappings().one_or_none()
    if row is None:
        raise NotFound()
    return _standing_of(row)


async def deposit_by_reference(session: AsyncSession, reference: str) -> Deposit | None:
    """The deposit a provider knows by `reference` (locked), or None."""
    return await session.scalar(
        select(Deposit).where(Deposit.provider_reference == reference).with_for_update()
    )


def outcomes_select() -> ReadModel:
    """The read model of auctions for statistics: `auction_id`, `listing_id`, `state`,
    `ends_at`."""
    return select(
        Auction.id.label("auction_id"), Auction.listing_id, Auction.state, Auction.ends_at
    )


async def states_by_listing(
    session: AsyncSession, listing_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """listing id → its auction's state, for the listings that have an auction."""
    rows = await session.execute(
        select(Auction.listing_id, Auction.state).where(Auction.listing_id.in_(list(listing_ids)))
    )
    return {listing_id: state.value for listing_id, state in rows}


async def auction_by_id(
    session: AsyncSession, auction_id: uuid.UUID, *, lock: bool = False
) -> Auction:
    return await one_or_not_found(
        session, select(Auction).where(Auction.id == auction_id), lock=lock
    )


EVENTS_PAGE = 500


async def events_after(
    session: AsyncSession, auction_id: uuid.UUID, after: int, *, limit: int = EVENTS_PAGE
) -> list[AuctionEvent]:
    """The live events of an auction after number `after` (for SSE and its replay)."""
    rows = await session.scalars(
        select(AuctionEvent)
        .where(AuctionEvent.auction_id == auction_id, AuctionEvent.sequence > after)
        .order_by(AuctionEvent.sequence)
        .limit(limit)
    )
    return list(rows.all())


async def auction_state(session: AsyncSession, auction_id: uuid.UUID) -> AuctionState:
    """An auction's state (NotFound when there is no such auction)."""
    state = await session.scalar(select(Auction.state).where(Auction.id == auction_id))
    if state is None:
        raise NotFound()
    return state


async def open_auctions(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Auctions open now, and those of them ending within the hour (for operators)."""
    soon = now + timedelta(hours=1)
    row = (
        await session.execute(
            select(func.count(), func.count().filter(Auction.ends_at <= soon)).where(
                Auction.state == AuctionState.open
            )
        )
    ).one()
    return int(row[0]), int(row[1])

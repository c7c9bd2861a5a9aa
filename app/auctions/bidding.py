"""Bids and proxy bids (代理出价): each computed by the engine on the auction as an unlocked read
found it, and stored in one statement that lands only on that version of the auction.

The auction's row lock is thus held for the storing statement and the commit, never while
Python works or waits for its turn on the event loop; a refusal (too low, already leading,
closed) takes no lock at all. A bid and the close still serialize on the auction's row: the
close changes the row, so a bid computed before it is computed again, and refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from asyncpg import UniqueViolationError
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auctions import engine, errors, events, queries, service, timing
from app.auctions.models import (
    Auction,
    AuctionFormat,
    AuctionState,
    Bid,
    Deposit,
    ProxyBid,
)
from app.core.auth import Principal
from app.core.errors import DomainError
from app.core.idempotency import RequestKey
from app.core.money import Money
from app.core.reads import PreparedRead, ReadPool

Answer = TypeVar("Answer", bound=BaseModel)

BIDS = Counter(
    "techx_bids",
    "Bids asked of this process: accepted, or the refusal's code (bid_too_low, already_leading, …)",
    ["outcome"],
)
BID_WRITES = Counter(
    "techx_bid_writes",
    "Statements storing a bid or proxy: stored, or auction_changed when the auction had moved "
    "since the bid's read (lost to another API process, the close or a worker's proxy)",
    ["outcome"],
)


@dataclass(frozen=True)
class BidOutcome:
    """What one bid or proxy did: the bids it caused (its own and proxies' answers)."""

    view: service.AuctionView
    bids: list[Bid]
    extended: bool


async def _lock(session: AsyncSession, auction_id: uuid.UUID) -> None:
    """Take the auction's row lock in the session's transaction. Its own statement: a row
    locked by a SELECT that had to wait is re-read, but what the same statement joined to it
    is not, so the book is read after the lock, by the next statement."""
    await session.execute(select(Auction.id).where(Auction.id == auction_id).with_for_update())


def _admitted(standing: queries.Standing, now: datetime) -> Deposit:
    """The bidder's held deposit (`service.admitted`) on an auction of open bids. Raises
    Sealed, AuctionClosed, DepositRequired, AuctionNotOpen."""
    if standing.auction.format == AuctionFormat.sealed:
        raise errors.Sealed()
    return service.admitted(standing.auction, standing.deposit, now)


@dataclass
class _BidWrite:
    """Everything one bid or proxy changes, stored by `_store` in one statement."""

    auction: Auction
    bids: list[Bid] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    proxies: list[ProxyBid] = field(default_factory=list)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.auction.event_sequence += 1
        self.events.append({"sequence": self.auction.event_sequence, "kind": kind, "data": data})

    def record(self, topic: str, payload: dict[str, Any]) -> None:
        self.outbox.append({"id": str(uuid.uuid4()), "topic": topic, "payload": payload})


def _bid_write(
    principal: Principal,
    standing: queries.Standing,
    deposit: Deposit,
    new_bids: Sequence[engine.Bid],
    now: datetime,
) -> tuple[_BidWrite, bool]:
    """What the engine's bids change — the bids, the end (anti-sniping), the live events and
    the outbox — applied to the transient auction; and whether the end moved."""
    auction, book = standing.auction, standing.book
    write = _BidWrite(auction)
    if auction.state == AuctionState.scheduled:
        # The first bid after the start opens the auction (the worker may not have yet).
        auction.state = AuctionState.open
        write.emit("opened", {"state": "open"})
        write.record("auction.opened", events.opened_payload(auction))
    auction.sequence = book.sequence
    if not new_bids:
        return write, False
    write.bids = [
        Bid(
            id=uuid.uuid4(),
            auction_id=auction.id,
            organization_id=bid.bidder,
            amount_fen=bid.amount,
            sequence=bid.sequence,
            by_proxy=bid.by_proxy,
            placed_by_id=principal.user_id
            if bid.bidder == deposit.organization_id and not bid.by_proxy
            else None,
            placed_at=now,
        )
        for bid in new_bids
    ]
    auction.bid_count += len(write.bids)
    extension = timing.after_bid(
        ends_at=auction.ends_at,
        bid_at=now,
        window=timedelta(seconds=auction.snipe_window_seconds),
        extension=timedelta(seconds=auction.extension_seconds),
        extensions=auction.extensions,
        max_extensions=auction.max_extensions,
    )
    extended = extension.ends_at != auction.ends_at
    auction.ends_at, auction.extensions = extension.ends_at, extension.extensions
    paddles = standing.paddles
    for bid in write.bids:
        write.emit(
            "bid",
            {
                "amount": Money(bid.amount_fen).to_api(),
                "paddle": paddles.get(bid.organization_id),
                "by_proxy": bid.by_proxy,
                "placed_at": now.isoformat(),
            },
        )
    price = book.price
    assert price is not None
    write.emit(
        "price",
        {
            "price": Money(price).to_api(),
            "minimum_bid": Money(book.minimum_next()).to_api(),
            "leader_paddle": paddles.get(book.leader),
            "reserve_met": auction.reserve_fen is None or price >= auction.reserve_fen,
        },
    )
    if extended:
        write.emit(
            "extended",
            {
                "ends_at": auction.ends_at.isoformat(),
                "extensions": auction.extensions,
                # Two-phase timing: the bid restarted the countdown (限时报价期).
                "countdown_restarted": auction.countdown_seconds is not None,
            },
        )
    write.record(
        "auction.bid_placed",
        {
            "auction_id": str(auction.id),
            "listing_id": str(auction.listing_id),
            "price": Money(price).to_api(),
            "bids": len(write.bids),
            "ends_at": auction.ends_at.isoformat(),
        },
    )
    if extended:
        write.record(
            "auction.extended",
            {
                "auction_id": str(auction.id),
                "listing_id": str(auction.listing_id),
                "ends_at": auction.ends_at.isoformat(),
            },
        )
    return write, extended


# One statement, so the auction's row lock is held for this statement and the commit, never
# while Python works: the UPDATE takes the lock and lands only on the version the bid was
# computed from (a row changed meanwhile matches nothing, and nothing else is written).
_STORE = text(
    """
    WITH updated AS (
        UPDATE auctions
        SET state = CAST(:state AS auction_state),
            sequence = :sequence, bid_count = :bid_count, ends_at = :ends_at,
            extensions = :extensions, event_sequence = :event_sequence
        WHERE id = :auction_id AND xmin = CAST(:version AS xid)
        RETURNING id
    ), bids AS (
        INSERT INTO auction_bids
            (id, auction_id, organization_id, amount_fen, sequence, by_proxy, placed_by_id,
             placed_at)
        SELECT b.id, updated.id, b.organization_id, b.amount_fen, b.sequence, b.by_proxy,
               b.placed_by_id, CAST(:now AS timestamptz)
        FROM updated, jsonb_to_recordset(:bids) AS b(id uuid, organization_id uuid,
            amount_fen bigint, sequence bigint, by_proxy boolean, placed_by_id uuid)
    ), events AS (
        INSERT INTO auction_events (auction_id, sequence, kind, data, at)
        SELECT updated.id, e.sequence, e.kind, e.data, CAST(:now AS timestamptz)
        FROM updated, jsonb_to_recordset(:events) AS e(sequence bigint, kind text, data jsonb)
    ), outbox AS (
        INSERT INTO outbox (id, topic, payload, created_at, attempts)
        SELECT o.id, o.topic, o.payload, CAST(:now AS timestamptz), 0
        FROM updated, jsonb_to_recordset(:outbox) AS o(id uuid, topic text, payload jsonb)
    ), proxies AS (
        INSERT INTO auction_proxy_bids
            (auction_id, organization_id, maximum_fen, sequence, set_by_id, set_at)
        SELECT updated.id, p.organization_id, p.maximum_fen, p.sequence, p.set_by_id,
               CAST(:now AS timestamptz)
        FROM updated, jsonb_to_recordset(:proxies) AS p(organization_id uuid,
            maximum_fen bigint, sequence bigint, set_by_id uuid)
        ON CONFLICT (auction_id, organization_id) DO UPDATE
        SET maximum_fen = excluded.maximum_fen, sequence = excluded.sequence,
            set_by_id = excluded.set_by_id, set_at = excluded.set_at
    ), used_key AS (
        -- A plain INSERT: a key used meanwhile fails the whole statement (nothing is stored).
        INSERT INTO idempotency_keys
            (owner, key, fingerprint, status_code, response, created_at)
        SELECT k.owner, k.key, k.fingerprint, k.status_code, k.response, k.created_at
        FROM updated, jsonb_to_recordset(:keys) AS k(owner text, key text, fingerprint text,
            status_code int, response jsonb, created_at timestamptz)
    )
    -- NOTIFY is delivered at commit, and only if the transaction commits.
    SELECT pg_notify(:channel, :notice) FROM updated
    """
).bindparams(
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("ends_at", type_=DateTime(timezone=True)),
    *(bindparam(name, type_=JSONB) for name in ("bids", "events", "outbox", "proxies", "keys")),
)
_STORE_ON_POOL = PreparedRead(_STORE)


async def _store(
    target: ReadPool | AsyncSession,
    version: int,
    write: _BidWrite,
    now: datetime,
    key_row: dict[str, Any] | None,
) -> bool:
    """Write a bid's changes, and the row of its Idempotency-Key with the answer, if the
    auction is still at `version`; False when it is not (another bid, a proxy or the close came
    first: nothing was written). On the read pool the statement is its own transaction, so the
    auction's lock lasts one round trip; in a session, until the session commits.
    Raises UniqueViolation when the key was used meanwhile (nothing was written)."""
    auction = write.auction
    values = {
        "auction_id": auction.id,
        "version": version,
        "state": auction.state.value,
        "sequence": auction.sequence,
        "bid_count": auction.bid_count,
        "ends_at": auction.ends_at,
        "extensions": auction.extensions,
        "event_sequence": auction.event_sequence,
        "now": now,
        "bids": [
            {
                "id": str(bid.id),
                "organization_id": str(bid.organization_id),
                "amount_fen": bid.amount_fen,
                "sequence": bid.sequence,
                "by_proxy": bid.by_proxy,
                "placed_by_id": str(bid.placed_by_id) if bid.placed_by_id else None,
            }
            for bid in write.bids
        ],
        "events": write.events,
        "outbox": write.outbox,
        "proxies": [
            {
                "organization_id": str(proxy.organization_id),
                "maximum_fen": proxy.maximum_fen,
                "sequence": proxy.sequence,
                "set_by_id": str(proxy.set_by_id) if proxy.set_by_id else None,
            }
            for proxy in write.proxies
        ],
        "keys": [key_row] if key_row is not None else [],
        "channel": events.NOTIFY_CHANNEL,
        "notice": f"{auction.id}:{auction.event_sequence}",
    }
    if isinstance(target, ReadPool):
        stored = await target.one(_STORE_ON_POOL, **values) is not None
    else:
        stored = (await target.execute(_STORE, values)).first() is not None
    BID_WRITES.labels(outcome="stored" if stored else "auction_changed").inc()
    return stored


UNLOCKED_ATTEMPTS = 3
"""How many times a bid is computed without the lock before it takes it."""


@dataclass
class Latest:
    """The latest state of an auction's book this process has seen — stored by one of its bids
    or found by one of its reads: the last bid's sequence, the least bid the rules then
    accepted and the leader. Bids only rise, so a bid read on an earlier book is refused by it
    as a read of the auction now would refuse it, without another round trip."""

    sequence: int = 0
    minimum: int = 0
    leader: engine.Bidder | None = None
    storing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a bid of this process is being stored on the auction: the next waits for
    its outcome instead of sending a write that would find the auction changed."""
    found: int = 0
    """The last sequence a read found beyond what this process knew: the bids up to it may be
    another process's."""
    stored: deque[tuple[int, int, tuple[str, str] | None]] = field(
        default_factory=lambda: deque(maxlen=STORES_KEPT)
    )
    """This process's latest stores on the auction: (the sequence each was computed on, the
    sequence it reached, the Idempotency-Key it claimed)."""

    def learn(self, book: engine.Book) -> None:
        """Learn the book as a read found it."""
        if book.sequence > self.sequence:
            self.found = book.sequence
            self._advance(book)

    def learn_stored(self, read: int, book: engine.Book, key: tuple[str, str] | None) -> None:
        """Learn the book as this process's store under `key` left it, computed on the book
        at sequence `read` (which another process's bids may have reached)."""
        if read > self.sequence:
            self.found = read
        self.stored.append((read, book.sequence, key))
        self._advance(book)

    def _advance(self, book: engine.Book) -> None:
        if book.sequence > self.sequence:
            self.sequence, self.minimum, self.leader = (
                book.sequence,
                book.minimum_next(),
                book.leader,
            )

    def stored_since(self, sequence: int, key: tuple[str, str]) -> bool:
        """Whether every bid after `sequence`, up to the latest, was stored by this process
        under another key than `key` — so no request with `key` stored a bid on the auction
        since a read at `sequence` found `key` unused."""
        if self.found > sequence:
            return False
        # From the newest store back to the read: each must have been computed on the book the
        # one before it left, so only the stores since are looked at, not all those kept.
        reached = self.sequence
        for read, last, used in reversed(self.stored):
            if reached <= sequence:
                break
            if last != reached or used == key:
                return False  # a bid it does not account for, or one under the key
            reached = read
        return reached <= sequence


STORES_KEPT = 64
"""How many of its latest stores on an auction a process remembers (`Latest.stored`): enough
for the bids that overtake one in flight; past them the key is read again."""


_LATEST: dict[uuid.UUID, Latest] = {}
"""Per process, by auction: what it knows of the books it bid on (an optimization only — the
storing statement's version check is what keeps a bid from landing on a changed auction)."""


def _latest(auction_id: uuid.UUID) -> Latest:
    latest = _LATEST.get(auction_id)
    if latest is None:
        if len(_LATEST) >= 10_000:
            _LATEST.clear()  # forgetting costs a round trip at most, never a wrong answer
        latest = _LATEST[auction_id] = Latest()
    return latest


@dataclass(frozen=True)
class _BidRequest:
    """What a bidding action of one request works with: where it reads and writes, who asks
    on which auction (for which of their organizations), when, under which key."""

    sessions: async_sessionmaker[AsyncSession]
    reads: ReadPool
    principal: Principal
    auction_id: uuid.UUID
    organization_id: uuid.UUID | None
    now: datetime
    idempotency: RequestKey


async def _bid(
    request: _BidRequest,
    act: Callable[[queries.Standing, Deposit], tuple[_BidWrite, bool]],
    answer_of: Callable[[queries.Standing, _BidWrite, bool], Answer],
    refuse_after: Callable[[Latest, Deposit], None] | None,
) -> Answer:
    """Run a bidding action on the auction as it stands, store what it did with the answer
    under the request's Idempotency-Key, and return the answer.

    The action is computed on an unlocked read and stored only if the auction is unchanged;
    a refusal needs no lock at all (bids only rise, so what was too low stays too low). An
    action that lost the race is computed again on a fresh read — the store waited for the
    winner's commit, so the read sees it and most losers are now simply refused — and after
    `UNLOCKED_ATTEMPTS` on the auction read under its lock, in a transaction of its own (not
    the request's: a bid has none), where it cannot lose. Every bid thus still serializes on
    the auction's row, as the close does.

    Within the process, bids on one auction are stored one at a time (`Latest.storing`), and
    one whose read another bid has since overtaken sends no write bound to fail: the newer
    book refuses it (`refuse_after`: bids only rise, so what it refuses, a read now would
    too) or, when it does not, the action is computed again on a fresh read. Its key is read
    again first unless every bid since was this process's under other keys
    (`Latest.stored_since`): then no retry of it can have landed before the book that refuses
    it (a different request reusing the key meanwhile, a client's error, is found by the
    key's next use).

    The key is looked up by the read and claimed by the storing statement, so a retried bid
    gets the first answer (Replay) before anything is computed, and two requests with one key
    never both store: the second's statement fails on the key and answers as a retry would.
    """
    reads, idempotency, now = request.reads, request.idempotency, request.now
    auction_id = request.auction_id
    bidder = request.principal.acting_for(request.organization_id)
    key = idempotency.used_key(request.principal)
    latest = _latest(auction_id)

    async def store(
        target: ReadPool | AsyncSession, standing: queries.Standing, deposit: Deposit
    ) -> Answer | None:
        """Compute the action and store it with its answer: the answer, or None when the
        auction had changed or the key, taken meanwhile, turned out expired (the next read
        forgets it)."""
        read = standing.book.sequence
        write, extended = act(standing, deposit)
        answer = answer_of(standing, write, extended)
        key_row = idempotency.stored_row(answer, status_code=201)
        try:
            if not await _store(target, standing.version, write, now, key_row):
                return None
        except KEY_USED:
            if isinstance(target, AsyncSession):
                await target.rollback()
            idempotency.check_used(await idempotency.used_row(reads))
            return None
        latest.learn_stored(read, standing.book, key)
        return answer

    async def read(source: ReadPool | AsyncSession) -> tuple[queries.Standing, Deposit]:
        """The auction as it stands and the bidder's held deposit. Raises Replay (or
        IdempotencyKeyReused) for a used key, and as `_admitted` refuses."""
        standing = await queries.standing(source, auction_id, bidder, key)
        if idempotency.check_used(standing.used_key):
            await idempotency.forget_expired(reads)
        return standing, _admitted(standing, now)

    for attempt in range(UNLOCKED_ATTEMPTS + 1):
        if attempt == UNLOCKED_ATTEMPTS:
            async with request.sessions() as session:
                await _lock(session, auction_id)
                stored = await store(session, *await read(session))
                if stored is not None:
                    await session.commit()
                    return stored
            continue
        standing, deposit = await read(reads)
        latest.learn(standing.book)
        # Overtaken already (books only advance): no need to wait for the storing lock to see it.
        overtaken = latest.sequence > standing.book.sequence
        stored = None
        if not overtaken:
            async with latest.storing:
                overtaken = latest.sequence > standing.book.sequence
                if not overtaken:
                    stored = await store(reads, standing, deposit)
        if stored is not None:
            return stored
        if overtaken and refuse_after is not None:
            # Another bid of this process was stored since this one read: its book decides,
            # once the request's key is known to be still unused (else it answers as a retry):
            # known without a read when every bid since was this process's, under other keys.
            if (
                key is not None
                and not latest.stored_since(standing.book.sequence, key)
                and idempotency.check_used(await idempotency.used_row(reads))
            ):
                await idempotency.forget_expired(reads)
            refuse_after(latest, deposit)
    raise AssertionError("a write under the auction's lock found the auction changed")


KEY_USED = (UniqueViolationError, IntegrityError)
"""What the storing statement raises when its Idempotency-Key was used meanwhile."""


def _view_after(
    principal: Principal, standing: queries.Standing, deposit: Deposit
) -> service.AuctionView:
    book = standing.book
    return service.view_of_book(
        principal,
        standing.auction,
        book,
        deposit,
        standing.paddles.get(book.leader),
    )


async def place_bid(
    sessions: async_sessionmaker[AsyncSession],
    reads: ReadPool,
    principal: Principal,
    auction_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    amount: Money,
    now: datetime,
    idempotency: RequestKey,
    answer: Callable[[BidOutcome], Answer],
) -> Answer:
    """Bid `amount` for the caller's organization; proxies answer at once. Returns `answer`
    of the outcome, stored with the request's Idempotency-Key.

    Raises NotFound; ValidationFailed(organization_id) for someone else's organization;
    DepositRequired without a confirmed deposit; AuctionNotOpen before the start;
    AuctionClosed after the end; AlreadyLeading; BidTooLow with the minimum; Replay or
    IdempotencyKeyReused for a key used before.
    """

    def act(standing: queries.Standing, deposit: Deposit) -> tuple[_BidWrite, bool]:
        try:
            new_bids = standing.book.place_bid(deposit.organization_id, amount.fen)
        except engine.BidTooLow as low:
            raise errors.BidTooLow(Money(low.minimum)) from None
        except engine.AlreadyLeading:
            raise errors.AlreadyLeading() from None
        except engine.OffGrid as off:
            below = Money(off.below) if off.below is not None else None
            raise errors.BidOffGrid(below, Money(off.above)) from None
        return _bid_write(principal, standing, deposit, new_bids, now)

    def answer_of(standing: queries.Standing, write: _BidWrite, extended: bool) -> Answer:
        assert standing.deposit is not None
        view = _view_after(principal, standing, standing.deposit)
        return answer(BidOutcome(view, write.bids, extended))

    def refuse_after(latest: Latest, deposit: Deposit) -> None:
        # As the engine refuses, in its order, on the book another bid left.
        if latest.leader == deposit.organization_id:
            raise errors.AlreadyLeading()
        if amount.fen < latest.minimum:
            raise errors.BidTooLow(Money(latest.minimum))

    try:
        placed = await _bid(
            _BidRequest(sessions, reads, principal, auction_id, organization_id, now, idempotency),
            act,
            answer_of,
            refuse_after,
        )
    except DomainError as refused:
        BIDS.labels(outcome=refused.code).inc()
        raise
    BIDS.labels(outcome="accepted").inc()
    return placed


async def set_proxy(
    sessions: async_sessionmaker[AsyncSession],
    reads: ReadPool,
    principal: Principal,
    auction_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    maximum: Money,
    now: datetime,
    idempotency: RequestKey,
    answer: Callable[[ProxyBid, BidOutcome], Answer],
) -> Answer:
    """Set (or raise) the caller's organization's proxy maximum (代理出价); the engine bids on
    its behalf at once if it can. Raises as `place_bid`, with ProxyMaximumTooLow for a
    maximum below the next acceptable bid (or, for the leader, not above their current one).
    """

    def act(standing: queries.Standing, deposit: Deposit) -> tuple[_BidWrite, bool]:
        try:
            new_bids = standing.book.set_proxy(deposit.organization_id, maximum.fen)
        except engine.BidTooLow as low:
            raise errors.ProxyMaximumTooLow(Money(low.minimum)) from None
        write, extended = _bid_write(principal, standing, deposit, new_bids, now)
        write.proxies.append(
            ProxyBid(
                auction_id=auction_id,
                organization_id=deposit.organization_id,
                maximum_fen=maximum.fen,
                sequence=standing.book.proxies[deposit.organization_id].sequence,
                set_by_id=principal.user_id,
                set_at=now,
            )
        )
        return write, extended

    def answer_of(standing: queries.Standing, write: _BidWrite, extended: bool) -> Answer:
        assert standing.deposit is not None
        [proxy] = write.proxies
        view = _view_after(principal, standing, standing.deposit)
        return answer(proxy, BidOutcome(view, write.bids, extended))

    # A proxy's maximum is decided on the book itself, read again.
    return await _bid(
        _BidRequest(sessions, reads, principal, auction_id, organization_id, now, idempotency),
        act,
        answer_of,
        refuse_after=None,
    )

"""The bidding engine of an English ascending auction with proxy bids, as pure functions of
the bids and proxies so far (no database): `bidding` reads the book, applies one action,
and stores the bids it produced if the auction has not changed meanwhile.

Rules: the first bid is at least the start price, every later one at least the current
price plus the increment, and on the auction's increment grid (`increments.IncrementGrid`);
the leader does not bid against themself. A proxy bid (代理出价)
is a maximum the engine bids up to on the bidder's behalf. Between two proxies the higher
wins at the lower maximum plus one increment, capped at the higher maximum; equal maximums go
to the one placed first. Every accepted bid is kept, in strictly increasing amounts; the
price shown is the last of them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from app.auctions.increments import IncrementTable

Bidder = Hashable


class BidRejected(Exception):
    """A bid or proxy the rules refuse; `code` names the rule."""

    code = "bid_rejected"


class BidTooLow(BidRejected):
    code = "bid_too_low"

    def __init__(self, minimum: int) -> None:
        super().__init__(minimum)
        self.minimum = minimum


class AlreadyLeading(BidRejected):
    code = "already_leading"


class OffGrid(BidRejected):
    """An amount between two the increment grid allows (`IncrementTable.off_grid`)."""

    code = "off_increment_grid"

    def __init__(self, below: int | None, above: int) -> None:
        super().__init__(below, above)
        self.below = below
        self.above = above


@dataclass(frozen=True)
class Bid:
    bidder: Bidder
    amount: int
    sequence: int
    by_proxy: bool


@dataclass
class Proxy:
    maximum: int
    sequence: int


@dataclass
class Book:
    """The bids and proxies of one auction."""

    start_price: int
    increments: IncrementTable
    bids: list[Bid] = field(default_factory=list)
    proxies: dict[Bidder, Proxy] = field(default_factory=dict)
    sequence: int = 0

    @property
    def price(self) -> int | None:
        return self.bids[-1].amount if self.bids else None

    @property
    def leader(self) -> Bidder | None:
        return self.bids[-1].bidder if self.bids else None

    def minimum_next(self) -> int:
        """The least bid the rules accept now (`IncrementTable.least_bid`)."""
        return self.increments.least_bid(start=self.start_price, price=self.price)

    def _tick(self) -> int:
        self.sequence += 1
        return self.sequence

    def _record(self, bidder: Bidder, amount: int, *, by_proxy: bool) -> Bid:
        bid = Bid(bidder, amount, self._tick(), by_proxy)
        self.bids.append(bid)
        return bid

    def _ceiling(self, bidder: Bidder) -> tuple[int, int]:
        """A bidder's effective maximum and when it was set (for ties)."""
        proxy = self.proxies.get(bidder)
        own = [bid for bid in self.bids if bid.bidder == bidder and not bid.by_proxy]
        best_bid = max(own, key=lambda bid: (bid.amount, -bid.sequence), default=None)
        candidates = []
        if proxy is not None:
            candidates.append((proxy.maximum, -proxy.sequence))
        if best_bid is not None:
            candidates.append((best_bid.amount, -best_bid.sequence))
        if not candidates:
            return 0, 0
        amount, negative_sequence = max(candidates)
        return amount, -negative_sequence

    def place_bid(self, bidder: Bidder, amount: int) -> list[Bid]:
        """A bid of `amount`; returns the bids it caused (its own and proxies' answers)."""
        if bidder == self.leader:
            raise AlreadyLeading()
        minimum = self.minimum_next()
        if amount < minimum:
            raise BidTooLow(minimum)
        nearest = self.increments.off_grid(amount, start=self.start_price, price=self.price)
        if nearest is not None:
            below, above = nearest
            raise OffGrid(below if below >= minimum else None, above)
        if any(p.maximum == amount for b, p in self.proxies.items() if b != bidder):
            # An earlier proxy at exactly this amount wins the tie: this bid could never lead.
            raise BidTooLow(amount + self.increments.increment(amount))
        start = len(self.bids)
        self._record(bidder, amount, by_proxy=False)
        self._resolve()
        return self.bids[start:]

    def set_proxy(self, bidder: Bidder, maximum: int) -> list[Bid]:
        """Bid up to `maximum` on the bidder's behalf; returns the bids it caused."""
        if bidder == self.leader:
            ceiling, _ = self._ceiling(bidder)
            if maximum <= ceiling:
                raise BidTooLow(ceiling + 1)
        else:
            minimum = self.minimum_next()
            if maximum < minimum:
                raise BidTooLow(minimum)
        self.proxies[bidder] = Proxy(maximum, self._tick())
        start = len(self.bids)
        if self.leader is None:
            self._record(bidder, self.start_price, by_proxy=True)
        self._resolve()
        return self.bids[start:]

    def _resolve(self) -> None:
        while True:
            leader, price = self.leader, self.price
            if price is None:
                return
            # A proxy answers whenever it has room above the price, even less than a full
            # increment: it bids up to its maximum, no further.
            challengers = [
                (proxy.maximum, -proxy.sequence, bidder)
                for bidder, proxy in self.proxies.items()
                if bidder != leader and proxy.maximum > price
            ]
            if not challengers:
                return
            challenger_max, negative_sequence, challenger = max(challengers)
            challenger_sequence = -negative_sequence
            leader_max, leader_sequence = self._ceiling(leader)
            if challenger_max > leader_max or (
                challenger_max == leader_max and challenger_sequence < leader_sequence
            ):
                if leader_max > price:  # the leader's proxy gives all it has first
                    self._record(leader, leader_max, by_proxy=True)
                answer = min(challenger_max, leader_max + self.increments.increment(leader_max))
                # Capped at the challenger's maximum, which may be less than a full increment.
                self._record(challenger, answer, by_proxy=True)
            elif challenger_max == leader_max:
                # Equal maximums: the earlier (the leader) takes the price to that maximum.
                self._record(leader, leader_max, by_proxy=True)
            else:
                self._record(challenger, challenger_max, by_proxy=True)
                answer = min(leader_max, challenger_max + self.increments.increment(challenger_max))
                self._record(leader, answer, by_proxy=True)


def live_part(book: Book) -> Book:
    """The part of a book that decides every later action: the last bid, the leader's highest
    own bid and the proxies that can still bid (maximum at or above the price).

    The service loads exactly this from the database instead of the whole history, so a bid
    costs the same on the thousandth bid as on the first; a property test checks that a book
    continued from its live part behaves as the whole book does.
    """
    part = Book(start_price=book.start_price, increments=book.increments, sequence=book.sequence)
    if book.bids:
        last = book.bids[-1]
        own = [bid for bid in book.bids if bid.bidder == last.bidder and not bid.by_proxy]
        best_own = max(own, key=lambda bid: bid.amount, default=None)
        if best_own is not None and best_own is not last:
            part.bids.append(best_own)
        part.bids.append(last)
    floor = book.price or 0
    part.proxies = {
        bidder: proxy for bidder, proxy in book.proxies.items() if proxy.maximum >= floor
    }
    return part

"""Anti-sniping (防狙击延时) and the close decision, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.auctions.engine import Bidder, Book


@dataclass(frozen=True)
class Extension:
    ends_at: datetime
    extensions: int

    @property
    def extended(self) -> bool:
        return self.extensions > 0


def after_bid(
    *,
    ends_at: datetime,
    bid_at: datetime,
    window: timedelta,
    extension: timedelta,
    extensions: int,
    max_extensions: int,
) -> Extension:
    """The end time after a bid at `bid_at`: a bid in the last `window` moves the end to
    `bid_at + extension`, at most `max_extensions` times in all."""
    if bid_at >= ends_at:
        raise ValueError("the auction has ended")
    if bid_at < ends_at - window or extensions >= max_extensions:
        return Extension(ends_at, extensions)
    return Extension(max(ends_at, bid_at + extension), extensions + 1)


@dataclass(frozen=True)
class Hammer:
    """A sale: who won and at what price (落槌价)."""

    winner: Bidder
    price: int


def hammer(book: Book, reserve: int | None) -> Hammer | None:
    """The sale at close: the highest bid, if it reaches the hidden reserve (保留价)."""
    if book.price is None or book.leader is None:
        return None
    if reserve is not None and book.price < reserve:
        return None
    return Hammer(book.leader, book.price)

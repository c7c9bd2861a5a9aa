from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.auctions.engine import Book
from app.auctions.increments import DEFAULT_INCREMENTS
from app.auctions.timing import after_bid, hammer

END = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("bid_at", "extensions", "ends_at", "used"),
    [
        (END - timedelta(minutes=10), 0, END, 0),  # outside the window
        (END - timedelta(minutes=3), 0, END + timedelta(minutes=2), 1),  # now + 5 min
        (END - timedelta(seconds=1), 2, END + timedelta(minutes=5) - timedelta(seconds=1), 3),
        (END - timedelta(minutes=1), 3, END, 3),  # no extensions left
    ],
)
def test_anti_sniping(bid_at: datetime, extensions: int, ends_at: datetime, used: int) -> None:
    result = after_bid(
        ends_at=END,
        bid_at=bid_at,
        window=FIVE,
        extension=FIVE,
        extensions=extensions,
        max_extensions=3,
    )
    assert (result.ends_at, result.extensions) == (ends_at, used)


def test_no_bid_after_the_end() -> None:
    with pytest.raises(ValueError, match="ended"):
        after_bid(
            ends_at=END, bid_at=END, window=FIVE, extension=FIVE, extensions=0, max_extensions=3
        )


@pytest.mark.parametrize(("reserve", "sold"), [(None, True), (5_000_000, True), (5_000_001, False)])
def test_hammer_needs_the_reserve(reserve: int | None, sold: bool) -> None:
    book = Book(start_price=1_000_000, increments=DEFAULT_INCREMENTS)
    book.place_bid("a", 5_000_000)

    result = hammer(book, reserve)

    assert (result is not None) == sold
    if result:
        assert (result.winner, result.price) == ("a", 5_000_000)


def test_no_bids_no_sale() -> None:
    assert hammer(Book(start_price=100, increments=DEFAULT_INCREMENTS), None) is None

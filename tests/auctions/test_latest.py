"""What a process knows of an auction's book (`bidding.Latest`): when a bid overtaken by others
may be refused without reading its Idempotency-Key again."""

from __future__ import annotations

import uuid

import pytest

from app.auctions.bidding import STORES_KEPT, Latest
from app.auctions.engine import Book
from app.auctions.increments import DEFAULT_INCREMENTS

MINE = ("user:a", "bid-1")
OTHER = ("user:b", "bid-2")
THIRD = ("user:c", "bid-3")


def book_at(sequence: int) -> Book:
    """A book whose last bid has `sequence`."""
    book = Book(start_price=10_000, increments=DEFAULT_INCREMENTS)
    for _ in range(sequence):
        book.place_bid(uuid.uuid4(), book.minimum_next())
    assert book.sequence == sequence
    return book


def stored(latest: Latest, read: int, reached: int, key: tuple[str, str] | None) -> None:
    latest.learn_stored(read, book_at(reached), key)


@pytest.mark.parametrize(
    ("history", "known"),
    [
        # (what the process learned, in order: a read's sequence or a store (read, reached, key))
        pytest.param([3, (3, 4, OTHER), (4, 6, THIRD)], True, id="only-own-stores-since"),
        pytest.param([3, (3, 4, OTHER), (4, 5, None)], True, id="a-store-without-a-key"),
        pytest.param([3, (3, 4, MINE)], False, id="a-store-under-the-same-key"),
        pytest.param([3, (3, 4, OTHER), 6], False, id="a-read-found-bids-it-did-not-store"),
        pytest.param([3, (5, 6, OTHER)], False, id="a-store-computed-on-bids-it-did-not-store"),
        pytest.param([3, (4, 5, OTHER), (3, 4, THIRD)], False, id="stores-learned-out-of-order"),
        pytest.param([3, (3, 5, OTHER), (3, 4, THIRD)], False, id="a-store-off-the-chain"),
        pytest.param([3], True, id="nothing-since"),
        pytest.param([1, (1, 2, MINE), (2, 3, OTHER), (3, 4, OTHER)], True, id="key-used-before"),
    ],
)
def test_a_bid_read_at_3_is_known_unanswered_only_when_the_process_stored_every_bid_since(
    history: list[int | tuple[int, int, tuple[str, str] | None]], known: bool
) -> None:
    latest = Latest()
    for step in history:
        if isinstance(step, int):
            latest.learn(book_at(step))
        else:
            stored(latest, *step)

    assert latest.stored_since(3, MINE) is known


def test_past_the_stores_it_keeps_the_key_is_read_again() -> None:
    latest = Latest()
    latest.learn(book_at(1))
    for sequence in range(1, STORES_KEPT + 2):
        stored(latest, sequence, sequence + 1, OTHER)

    assert not latest.stored_since(1, MINE)
    assert latest.stored_since(3, MINE)


def test_a_store_teaches_the_book_it_left() -> None:
    latest = Latest()
    after = book_at(4)
    latest.learn_stored(3, after, OTHER)

    assert (latest.sequence, latest.minimum, latest.leader) == (
        4,
        after.minimum_next(),
        after.leader,
    )

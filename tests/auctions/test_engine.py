"""The bidding engine against a simple reference model (hypothesis), and table cases."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.auctions.engine import AlreadyLeading, BidRejected, BidTooLow, Book, OffGrid, live_part
from app.auctions.increments import DEFAULT_INCREMENTS, IncrementGrid, IncrementTable
from app.auctions.timing import hammer

TABLE = IncrementTable(steps=((1_000, 10), (5_000, 50)), above=100)


def book(start: int = 100) -> Book:
    return Book(start_price=start, increments=TABLE)


def test_increments_follow_the_table() -> None:
    assert [DEFAULT_INCREMENTS.increment(p) for p in (0, 9_999_999, 10_000_000, 99_999_999, 100_000_000)] == [
        100_000, 100_000, 500_000, 500_000, 1_000_000,
    ]  # fmt: skip


def test_first_bid_at_start_then_by_increments() -> None:
    b = book()
    with pytest.raises(BidTooLow) as low:
        b.place_bid("a", 90)
    assert low.value.minimum == 100
    b.place_bid("a", 100)
    with pytest.raises(BidTooLow) as low:
        b.place_bid("b", 105)
    assert low.value.minimum == 110
    with pytest.raises(AlreadyLeading):
        b.place_bid("a", 200)


def test_two_proxies_higher_wins_at_lower_max_plus_increment() -> None:
    b = book()
    b.set_proxy("a", 500)
    b.set_proxy("b", 800)
    assert (b.leader, b.price) == ("b", 510)
    assert [bid.amount for bid in b.bids] == [100, 500, 510]


def test_higher_max_is_a_cap() -> None:
    b = book()
    b.set_proxy("a", 500)
    b.set_proxy("b", 505)
    assert (b.leader, b.price) == ("b", 505)


def test_equal_maximums_go_to_the_earlier() -> None:
    b = book()
    b.set_proxy("a", 500)
    b.set_proxy("b", 500)
    assert (b.leader, b.price) == ("a", 500)


def test_a_manual_bid_is_answered_by_a_proxy() -> None:
    b = book()
    b.set_proxy("a", 1_000)
    b.place_bid("b", 300)
    assert (b.leader, b.price) == ("a", 310)
    b.place_bid("b", 2_000)
    assert (b.leader, b.price) == ("b", 2_000)


# --- reference model ----------------------------------------------------------------------


@dataclass
class Offer:
    bidder: str
    amount: int
    manual: bool
    time: int


def reference(start: int, offers: list[Offer]) -> tuple[str | None, int | None]:
    """Winner: the highest maximum (earliest on a tie). Price: the runner-up's maximum plus one
    increment, capped at the winner's maximum, never below the winner's own bids or the start
    price. The price moves only when someone other than the leader acts: a leader raising
    their own maximum does not raise their own price."""
    best: dict[str, tuple[int, int]] = {}
    leader: str | None = None
    price: int | None = None
    for offer in offers:
        current = best.get(offer.bidder)
        if current is None or offer.amount > current[0]:
            best[offer.bidder] = (offer.amount, offer.time)
        if offer.bidder == leader:
            continue
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
        leader, (winner_max, _) = ranked[0]
        price = start
        own = [o.amount for o in offers if o.bidder == leader and o.manual and o.time <= offer.time]
        if own:
            price = max(price, max(own))
        if len(ranked) > 1:
            runner_up = ranked[1][1][0]
            price = max(price, min(winner_max, runner_up + TABLE.increment(runner_up)))
    return leader, price


actions = st.lists(
    st.tuples(st.sampled_from("abcd"), st.booleans(), st.integers(50, 8_000)), max_size=25
)


@settings(max_examples=400, deadline=None)
@given(actions)
def test_engine_matches_the_reference_model(steps: list[tuple[str, bool, int]]) -> None:
    b = book()
    accepted: list[Offer] = []
    for time, (bidder, manual, amount) in enumerate(steps):
        before = len(b.bids)
        try:
            if manual:
                b.place_bid(bidder, amount)
            else:
                b.set_proxy(bidder, amount)
        except BidRejected:
            assert len(b.bids) == before  # a refused action changes nothing
            continue
        accepted.append(Offer(bidder, amount, manual, time))

    amounts = [bid.amount for bid in b.bids]
    assert amounts == sorted(set(amounts))  # strictly increasing: no bid lost or repeated
    assert (b.leader, b.price) == reference(100, accepted)


@settings(max_examples=300, deadline=None)
@given(actions)
def test_a_book_continued_from_its_live_part_behaves_as_the_whole_book(
    steps: list[tuple[str, bool, int]],
) -> None:
    """The service loads only `live_part` from the database; every action must then give the
    same answer and the same new bids as on the whole history."""
    whole = book()
    for bidder, manual, amount in steps:
        part = live_part(whole)
        outcomes = []
        for each in (whole, part):
            try:
                made = each.place_bid(bidder, amount) if manual else each.set_proxy(bidder, amount)
                outcomes.append(("accepted", made))
            except BidRejected as refusal:
                outcomes.append((type(refusal).__name__, getattr(refusal, "minimum", None)))
        assert outcomes[0] == outcomes[1]
        assert (part.price, part.leader, part.sequence) == (
            whole.price,
            whole.leader,
            whole.sequence,
        )


@settings(max_examples=200, deadline=None)
@given(actions)
def test_there_is_never_more_than_one_winner(steps: list[tuple[str, bool, int]]) -> None:
    b = book()
    for bidder, manual, amount in steps:
        with contextlib.suppress(BidRejected):
            b.place_bid(bidder, amount) if manual else b.set_proxy(bidder, amount)
    sale = hammer(b, reserve=None)
    leaders = {bid.bidder for bid in b.bids if b.bids and bid.amount == b.price}
    assert len(leaders) <= 1
    assert (sale is None) == (not b.bids)
    if sale is not None:
        assert (sale.winner, sale.price) == (b.leader, b.price)


# --- the increment grid (加价幅度的正整数倍) ---------------------------------------------------

FROM_START = IncrementTable(
    steps=((1_000, 30), (5_000, 50)), above=100, grid=IncrementGrid.from_start
)


@pytest.mark.parametrize(
    ("table", "price", "amount", "nearest"),
    [
        # From the price: the price plus whole increments of the price's tier.
        (TABLE, None, 100, None),  # the first bid at the start price
        (TABLE, None, 130, None),  # the start price plus three increments
        (TABLE, None, 135, (130, 140)),
        (TABLE, 990, 1_000, None),  # 990 + 1 × 10 crosses into the next tier: still its grid
        (TABLE, 990, 1_005, (1_000, 1_010)),
        (TABLE, 1_000, 1_050, None),  # at 1,000 the increment is 50
        (TABLE, 1_000, 1_060, (1_050, 1_100)),
        (TABLE, 6_000, 6_150, (6_100, 6_200)),
        # From the start: 100, 130, … 970, 1,000 (the first point past 999), then by 50.
        (FROM_START, 400, 430, None),
        (FROM_START, 400, 431, (430, 460)),
        (FROM_START, 970, 1_000, None),
        (FROM_START, 970, 1_050, None),
        (FROM_START, 970, 1_020, (1_000, 1_050)),
        (FROM_START, 4_950, 5_000, None),  # 1,000 + 80 × 50: exactly on the next bound
        (FROM_START, 5_000, 5_300, None),
        (FROM_START, 5_000, 5_250, (5_200, 5_300)),
        # Free: anything at or above the minimum.
        (IncrementTable(steps=TABLE.steps, above=100, grid=IncrementGrid.free), 990, 1_003, None),
    ],
)
def test_the_grid_names_the_nearest_acceptable_amounts(
    table: IncrementTable, price: int | None, amount: int, nearest: tuple[int, int] | None
) -> None:
    assert table.off_grid(amount, start=100, price=price) == nearest


def test_an_off_grid_bid_is_refused_with_the_nearest_amounts_above_the_minimum() -> None:
    b = book()
    b.place_bid("a", 100)
    with pytest.raises(OffGrid) as off:
        b.place_bid("b", 115)  # the minimum is 110: 110 and 120 are on the grid
    assert (off.value.below, off.value.above) == (110, 120)
    with pytest.raises(OffGrid) as off:
        b.place_bid("b", 125)
    assert (off.value.below, off.value.above) == (120, 130)
    assert [bid.amount for bid in b.bids] == [100]


def test_the_least_bid_is_moved_onto_the_grid_after_a_capped_proxy_answer() -> None:
    b = Book(start_price=100, increments=FROM_START)
    b.set_proxy("a", 145)
    b.place_bid("b", 130)  # a's proxy answers with all it has: 145, off the start's grid
    assert (b.leader, b.price) == ("a", 145)
    # 145 + 30 = 175 is between the grid's 160 and 190.
    assert b.minimum_next() == 190

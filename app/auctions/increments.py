"""Bid increments (加价幅度): how much the next bid must add, by the current price, and the grid
a bid must land on.

The exchanges' rule for repeated bidding (多次报价) is that a bid raises the price by a positive
whole multiple of the increment (加价幅度的正整数倍): `IncrementGrid.from_price`, the default.
Some auctions count the multiples from the start price instead (`from_start`: every bid is the
start price plus whole increments, stepping through the tiers), and some take any amount at or
above the minimum (`free`). The grid binds the bids people place; the engine's answers for a
proxy keep the proxy rule (at most its maximum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

YUAN = 100  # fen


class IncrementGrid(StrEnum):
    """Which amounts a bid may be."""

    from_price = "from_price"  # the current price (the start price first) + k increments
    from_start = "from_start"  # the start price + whole increments, tier by tier
    free = "free"  # any amount at or above the minimum


@dataclass(frozen=True)
class IncrementTable:
    """Steps as (price below which it applies, increment), in fen, ascending; the last
    increment applies above every step. `grid` says which amounts a bid may be."""

    steps: Sequence[tuple[int, int]]
    above: int
    grid: IncrementGrid = IncrementGrid.from_price

    def __post_init__(self) -> None:
        bounds = [bound for bound, _ in self.steps]
        if bounds != sorted(bounds) or any(inc <= 0 for _, inc in self.steps) or self.above <= 0:
            raise ValueError("increment steps must ascend and be positive")

    def increment(self, price: int) -> int:
        return self._tier(price)[0]

    def _tier(self, price: int) -> tuple[int, int | None]:
        """The increment at `price` and the bound its tier ends below (None: the last)."""
        for bound, step in self.steps:
            if price < bound:
                return step, bound
        return self.above, None

    def least_bid(self, *, start: int, price: int | None) -> int:
        """The least bid the rules accept: one increment above the price (the start price
        first), moved up onto the grid when a proxy's capped answer left the price off it."""
        least = start if price is None else price + self.increment(price)
        nearest = self.off_grid(least, start=start, price=price)
        return least if nearest is None else nearest[1]

    def off_grid(self, amount: int, *, start: int, price: int | None) -> tuple[int, int] | None:
        """None when `amount` (at least the minimum bid) is on the grid; otherwise the grid's
        amounts just below and just above it."""
        if self.grid == IncrementGrid.free:
            return None
        if self.grid == IncrementGrid.from_price or price is None:
            base = start if price is None else price
            step = self.increment(base)
            below = base + (amount - base) // step * step
            return None if below == amount else (below, below + step)
        return self._off_start_grid(amount, start)

    def _off_start_grid(self, amount: int, start: int) -> tuple[int, int] | None:
        # The grid start, start + inc, … where each step is the increment at the point it
        # leaves from: within a tier the points are evenly spaced, and the first point at or
        # past a tier's bound is where the next tier's spacing begins.
        point = start
        while True:
            step, bound = self._tier(point)
            if bound is None or amount < bound:
                below = point + (amount - point) // step * step
                return None if below == amount else (below, below + step)
            point += -(-(bound - point) // step) * step  # the first point at or past the bound
            if point == amount:
                return None
            if point > amount:
                return point - step, point


# < 100,000 CNY: 1,000; < 1,000,000: 5,000; above: 10,000 (configurable per auction).
DEFAULT_INCREMENTS = IncrementTable(
    steps=((100_000 * YUAN, 1_000 * YUAN), (1_000_000 * YUAN, 5_000 * YUAN)),
    above=10_000 * YUAN,
)

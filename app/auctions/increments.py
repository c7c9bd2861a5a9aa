"""Bid increments (加价幅度): how much the next bid must add, by the current price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

YUAN = 100  # fen


@dataclass(frozen=True)
class IncrementTable:
    """Steps as (price below which it applies, increment), in fen, ascending; the last
    increment applies above every step."""

    steps: Sequence[tuple[int, int]]
    above: int

    def __post_init__(self) -> None:
        bounds = [bound for bound, _ in self.steps]
        if bounds != sorted(bounds) or any(inc <= 0 for _, inc in self.steps) or self.above <= 0:
            raise ValueError("increment steps must ascend and be positive")

    def increment(self, price: int) -> int:
        for bound, step in self.steps:
            if price < bound:
                return step
        return self.above


# < 100,000 CNY: 1,000; < 1,000,000: 5,000; above: 10,000 (configurable per auction).
DEFAULT_INCREMENTS = IncrementTable(
    steps=((100_000 * YUAN, 1_000 * YUAN), (1_000_000 * YUAN, 5_000 * YUAN)),
    above=10_000 * YUAN,
)

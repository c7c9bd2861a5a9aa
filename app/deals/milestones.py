"""Payment milestones (付款节点): what is still due on each, as a pure function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Milestone:
    number: int
    amount_fen: int


def outstanding(
    milestones: Sequence[Milestone],
    paid: Mapping[int, int],
    *,
    credit_fen: int = 0,
) -> dict[int, int]:
    """milestone number → fen still due. `paid` is what was paid against each milestone;
    `credit_fen` (an auction deposit applied to the price) pays the milestones in order first.
    """
    due: dict[int, int] = {}
    for milestone in sorted(milestones, key=lambda m: m.number):
        remaining = milestone.amount_fen - paid.get(milestone.number, 0)
        used = min(max(remaining, 0), credit_fen)
        credit_fen -= used
        due[milestone.number] = max(remaining - used, 0)
    return due

"""Inventors' rewards from transformation income (科技成果转化奖励), as pure arithmetic.

促进科技成果转化法 第四十五条: without a stipulated scheme, a university or research institute
rewards the people who made the result with at least 50 % of the net income from transferring
or licensing it. The pool is rounded half-up to the fen once; it is then split by the inventors'
shares so that the parts add up to the pool exactly (largest remainders take the odd fen,
earlier inventors first on a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from app.core.money import allocate

LEGAL_FLOOR_PERCENT = Decimal(50)


def reward_pool(net_fen: int, percent: Decimal) -> int:
    """The inventors' part of a net income, in fen."""
    if percent < LEGAL_FLOOR_PERCENT or percent > 100:
        raise ValueError("the inventors' part is between 50 and 100 percent")
    if net_fen <= 0:
        return 0
    return int((Decimal(net_fen) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(pool_fen: int, shares: Sequence[Decimal | None]) -> list[int]:
    """The pool by shares (percent, adding to 100), or equally when no share is given."""
    if not shares:
        return []
    weights = (
        [Decimal(1)] * len(shares)
        if all(share is None for share in shares)
        else [share or Decimal(0) for share in shares]
    )
    return allocate(pool_fen, weights)

"""Pure milestone rules: what is due, and how money divides between the technology part of a
contract (技术交易额) and the rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.deals.milestones import Milestone, TechnologyShare, outstanding

YUAN = 100


@pytest.mark.parametrize(
    ("share", "receipts", "expected"),
    [
        # All technical: every fen is technology.
        (
            TechnologyShare(1_000_000 * YUAN, 1_000_000 * YUAN),
            [(300_000 * YUAN, 1)],
            [(300_000 * YUAN, 0)],
        ),
        # Part equipment (100,000 of 1,234,567.70), paid by a deposit and two milestones: each
        # receipt divides pro rata, and the three add up to the 技术交易额 exactly.
        (
            TechnologyShare(123_456_770, 113_456_770),
            [(11_000_000, None), (49_000_000, 1), (63_456_770, 2)],
            [(10_109_000, 891_000), (45_030_999, 3_969_001), (58_316_771, 5_139_999)],
        ),
        # A milestone that pays only the equipment: wholly non-technical; the others are then
        # wholly technology (nothing else is left to the rest).
        (
            TechnologyShare(123_456_770, 113_456_770, {3: ("non_technical", 10_000_000)}),
            [(60_000_000, 1), (10_000_000, 3), (53_456_770, 2)],
            [(60_000_000, 0), (0, 10_000_000), (53_456_770, 0)],
        ),
        # A refund gives back the parts it brought: the running total falls again.
        (
            TechnologyShare(3 * YUAN, 2 * YUAN),
            [(1 * YUAN, 1), (1 * YUAN, 1), (-1 * YUAN, 1)],
            [(67, 33), (66, 34), (-66, -34)],
        ),
    ],
    ids=["all technical", "part equipment", "a payment for the equipment", "a refund"],
)
def test_money_divides_between_the_technology_and_the_rest(
    share: TechnologyShare,
    receipts: list[tuple[int, int | None]],
    expected: list[tuple[int, int]],
) -> None:
    before, parts = 0, []
    for amount, milestone in receipts:
        parts.append(share.split(amount, milestone, pro_rata_before_fen=before))
        if share.pro_rata(milestone):
            before += amount

    assert parts == expected
    assert all(sum(part) == amount for part, (amount, _) in zip(parts, receipts, strict=True))


@given(
    total=st.integers(min_value=1, max_value=10**12),
    technical=st.floats(min_value=0, max_value=1),
    cuts=st.lists(st.integers(min_value=1, max_value=10**12), max_size=12),
)
def test_a_contract_paid_in_full_counts_its_technology_part_to_the_fen(
    total: int, technical: float, cuts: list[int]
) -> None:
    """However the total is cut into receipts, the technology parts add up to 技术交易额."""
    transaction = int(total * technical)
    share = TechnologyShare(total, transaction)
    bounds = sorted({min(cut, total - 1) for cut in cuts if total > 1})
    amounts = [b - a for a, b in zip([0, *bounds], [*bounds, total], strict=True) if b > a]
    before, technology = 0, 0
    for amount in amounts:
        part, rest = share.split(amount, None, pro_rata_before_fen=before)
        assert part + rest == amount
        technology, before = technology + part, before + amount

    assert technology == transaction


def test_a_deposit_pays_the_first_milestones() -> None:
    milestones = [Milestone(1, 60_000_000), Milestone(2, 63_456_770)]

    due = outstanding(milestones, {1: 49_000_000}, credit_fen=11_000_000)

    assert due == {1: 0, 2: 63_456_770}

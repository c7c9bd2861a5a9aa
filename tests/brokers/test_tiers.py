"""Reward arithmetic: tier boundaries, caps, shares, pro rata, rounding, and the shipped
policies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.brokers.policies import all_policies, policy_in_force
from app.brokers.tiers import Tier, compute, marginal, round_fen

BUYER = policy_in_force("nm-buyer-post-subsidy", date(2026, 11, 2))
assert BUYER is not None
TIERS = BUYER.rate_tiers()
CAP = BUYER.fen(BUYER.contract_cap)
YUAN = 100
MILLION = 1_000_000 * YUAN


def buyer_subsidy(transaction_fen: int) -> int:
    return compute(
        transaction_fen=transaction_fen,
        tiers=TIERS,
        contract_cap_fen=CAP,
        share=Decimal(100),
        received_fen=None,
        year_cap_fen=None,
        year_used_fen=0,
    ).amount_fen


@pytest.mark.parametrize(
    ("transaction_fen", "subsidy_fen"),
    [
        (0, 0),
        (1, 0),  # 0.1 fen rounds half-up to 0
        (5, 1),  # 0.5 fen rounds up
        (MILLION - 1, 10_000_000 - 0),  # 9,999,999.9 fen → 10,000,000 (half-up)
        (MILLION, 10_000_000),  # 10 % of 1,000,000 CNY = 100,000 CNY
        (MILLION + 1, 10_000_000),  # + 0.05 fen
        (MILLION + 10, 10_000_000 + 1),  # + 0.5 fen → up
        (5 * MILLION - 1, 30_000_000),  # 100,000 + 5 % × 3,999,999.99 = 299,999.9995 CNY
        (5 * MILLION, 30_000_000),  # 100,000 + 200,000
        (5 * MILLION + 1, 30_000_000),  # + 0.03 fen
        (5 * MILLION + 100, 30_000_003),  # + 3 fen
        (10 * MILLION, 45_000_000),  # + 3 % × 5,000,000 = 150,000
        (61_666_666_67, 199_999_999 + 1),  # just under the cap in CNY terms
        (int(Decimal(5 * MILLION) + Decimal(170 * MILLION) / Decimal("3")), CAP),  # at the cap
        (100 * MILLION, CAP),  # capped at 2,000,000 CNY
    ],
)
def test_the_inner_mongolia_buyer_subsidy_at_every_boundary(
    transaction_fen: int, subsidy_fen: int
) -> None:
    assert buyer_subsidy(transaction_fen) == subsidy_fen


def test_tier_lines_show_the_working() -> None:
    lines = marginal(6 * MILLION, TIERS)
    assert [(line.lower, line.upper, line.base, line.rate) for line in lines] == [
        (0, MILLION, MILLION, Decimal("0.10")),
        (MILLION, 5 * MILLION, 4 * MILLION, Decimal("0.05")),
        (5 * MILLION, None, MILLION, Decimal("0.03")),
    ]
    assert sum(line.amount for line in lines) == Decimal(33_000_000)


def test_caps_shares_and_pro_rata_apply_in_the_stated_order() -> None:
    working = compute(
        transaction_fen=100 * MILLION,  # tiered 100,000 + 200,000 + 2,850,000 CNY
        tiers=TIERS,
        contract_cap_fen=CAP,  # cut to 2,000,000
        share=Decimal(40),  # 800,000
        received_fen=25 * MILLION,  # a quarter received: 200,000
        year_cap_fen=150_000 * YUAN,
        year_used_fen=30_000 * YUAN,  # 120,000 of room
    )
    assert working.tiered == Decimal(315_000_000)
    assert working.after_contract_cap == Decimal(CAP)
    assert working.after_share == Decimal(80_000_000)
    assert working.after_pro_rata == Decimal(20_000_000)
    assert working.amount_fen == 12_000_000
    assert working.cap_applied == "year"


def test_rounding_is_half_up_once() -> None:
    assert [round_fen(Decimal(x)) for x in ("0.4999", "0.5", "1.5", "2.5", "-0.5")] == [
        0,
        1,
        2,
        3,
        -1,
    ]
    # The share stays exact until the end: a third of 30 fen is 10, not 9.99 → 10.
    working = compute(
        transaction_fen=100,
        tiers=[Tier(None, Decimal("0.3"))],
        contract_cap_fen=None,
        share=Decimal(100) / 3,
        received_fen=None,
        year_cap_fen=None,
        year_used_fen=0,
    )
    assert working.amount_fen == 10


@given(
    st.integers(0, 10**12),
    st.lists(st.integers(1, 100), min_size=1, max_size=6),
    st.integers(0, 10**12),
)
def test_rewards_on_a_contract_never_exceed_the_cap_nor_go_negative(
    transaction_fen: int, weights: list[int], received_fen: int
) -> None:
    total_weight = sum(weights)
    shares = [Decimal(w) * 100 / total_weight for w in weights]
    amounts = [
        compute(
            transaction_fen=transaction_fen,
            tiers=TIERS,
            contract_cap_fen=CAP,
            share=share,
            received_fen=received_fen,
            year_cap_fen=None,
            year_used_fen=0,
        ).amount_fen
        for share in shares
    ]
    assert all(amount >= 0 for amount in amounts)
    # Each part rounds once, so the parts may exceed the whole by under a fen each.
    assert sum(amounts) <= CAP + len(amounts) // 2


def test_the_shipped_policies_cite_their_source_or_say_they_are_examples() -> None:
    for policy in all_policies():
        assert policy.source
        assert policy.example or "号" in policy.source
        assert policy.rate_tiers()[-1].upper is None

"""Reward arithmetic (奖补计算), as pure functions of a policy and a contract.

The order is stated once and kept everywhere:
1. the rate tiers on the registered technology-transaction amount (marginal, like tax
   brackets — 超额累退 — or one flat rate), computed exactly;
2. the per-contract cap, on that whole-contract figure (so the claims on one contract, whose
   shares add up to at most 100 %, never exceed it together);
3. the claimant's share (percent);
4. pro rata to the money actually received, when the policy says so;
5. rounded half-up to the fen — the only rounding;
6. the beneficiary's per-year cap, less what earlier rewards that year used of it;
7. for a broker, their agency's per-year cap likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Tier:
    """`rate` applies to the part of the amount up to `upper` fen (None: no upper bound)."""

    upper: int | None
    rate: Decimal


@dataclass(frozen=True)
class TierLine:
    """One tier's contribution: `rate` × the part of the amount between `lower` and `upper`."""

    lower: int
    upper: int | None
    base: int
    rate: Decimal
    amount: Decimal
    """Exact, in fen (not yet rounded)."""


def marginal(amount: int, tiers: Sequence[Tier]) -> list[TierLine]:
    """The lines of a marginal tier schedule; a single unbounded tier is a flat rate."""
    lines = []
    lower = 0
    for tier in tiers:
        upper = tier.upper
        top = amount if upper is None else min(amount, upper)
        base = max(top - lower, 0)
        if base > 0:
            lines.append(TierLine(lower, upper, base, tier.rate, Decimal(base) * tier.rate))
        if upper is None or amount <= upper:
            break
        lower = upper
    return lines


def round_fen(value: Decimal) -> int:
    """Half-up to the fen: the one rounding of the computation."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Working:
    """How a reward was reached, step by step (shown with every reward)."""

    transaction_fen: int
    lines: list[TierLine]
    tiered: Decimal
    contract_cap_fen: int | None
    after_contract_cap: Decimal
    share: Decimal
    after_share: Decimal
    received_fen: int | None
    after_pro_rata: Decimal
    rounded_fen: int
    year_cap_fen: int | None
    year_used_fen: int
    agency_room_fen: int | None
    amount_fen: int
    cap_applied: str | None
    """"contract", "year", "agency_year" or None: which cap cut the reward last."""


def compute(
    *,
    transaction_fen: int,
    tiers: Sequence[Tier],
    contract_cap_fen: int | None,
    share: Decimal,
    received_fen: int | None,
    year_cap_fen: int | None,
    year_used_fen: int,
    agency_room_fen: int | None = None,
) -> Working:
    """One claim's reward. `received_fen` is None unless the policy pays pro rata to money
    received; `year_used_fen` is what earlier rewards of the same beneficiary and year took;
    `agency_room_fen` what is left of the broker's agency's year cap."""
    if not Decimal(0) <= share <= Decimal(100):
        raise ValueError("a share is between 0 and 100 percent")
    lines = marginal(transaction_fen, tiers)
    tiered = sum((line.amount for line in lines), Decimal(0))
    cap_applied = None
    after_contract_cap = tiered
    if contract_cap_fen is not None and tiered > contract_cap_fen:
        after_contract_cap, cap_applied = Decimal(contract_cap_fen), "contract"
    after_share = after_contract_cap * share / 100
    after_pro_rata = after_share
    if received_fen is not None and transaction_fen > 0:
        fraction = Decimal(min(received_fen, transaction_fen)) / Decimal(transaction_fen)
        after_pro_rata = after_share * fraction
    rounded = round_fen(after_pro_rata)
    amount = rounded
    if year_cap_fen is not None:
        room = max(year_cap_fen - year_used_fen, 0)
        if rounded > room:
            amount, cap_applied = room, "year"
    if agency_room_fen is not None and amount > max(agency_room_fen, 0):
        amount, cap_applied = max(agency_room_fen, 0), "agency_year"
    return Working(
        transaction_fen=transaction_fen,
        lines=lines,
        tiered=tiered,
        contract_cap_fen=contract_cap_fen,
        after_contract_cap=after_contract_cap,
        share=share,
        after_share=after_share,
        received_fen=received_fen,
        after_pro_rata=after_pro_rata,
        rounded_fen=rounded,
        year_cap_fen=year_cap_fen,
        year_used_fen=year_used_fen,
        agency_room_fen=agency_room_fen,
        amount_fen=amount,
        cap_applied=cap_applied,
    )

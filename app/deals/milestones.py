"""Payment milestones (付款节点), as pure functions: what is still due on each, and how the
money divides between the technology and the rest of the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal


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


Part = Literal["technology", "non_technical"]
"""What a milestone pays: the technology (技术交易额) or the rest of the contract."""


@dataclass(frozen=True)
class TechnologyShare:
    """How a contract's money divides between its technology part (技术交易额) and the rest —
    equipment, instruments, parts and raw materials delivered with the technology, which are
    neither technology-transfer income (国税函〔2009〕212号) nor exempt from VAT, whose
    exemption covers the technology services, not goods
    (财税〔2016〕36号 附件3 第一条第（二十六）项).

    Money for a milestone that says which part it pays is wholly that part; all other money
    (other milestones, an applied deposit) divides pro rata to what no milestone claims. The
    pro-rata part is rounded on the running total of that money, so the parts of a contract
    paid in full add up to its 技术交易额 to the fen, however many receipts it took."""

    total_fen: int
    transaction_fen: int
    designated: Mapping[int, tuple[Part, int]] = field(default_factory=dict)
    """milestone number → (the part it pays, its amount)."""

    @classmethod
    def of(cls, total_fen: int, transaction_fen: int, milestones: Sequence[Any]) -> TechnologyShare:
        """The share of a contract version's stored milestones (`{"number", "amount_fen",
        "pays"?}`)."""
        return cls(
            total_fen,
            transaction_fen,
            {
                int(m["number"]): (m["pays"], int(m["amount_fen"]))
                for m in milestones
                if m.get("pays")
            },
        )

    def pro_rata(self, milestone: int | None) -> bool:
        """Whether money for `milestone` (None: a deposit) divides pro rata."""
        return milestone is None or milestone not in self.designated

    def split(
        self, amount_fen: int, milestone: int | None, *, pro_rata_before_fen: int = 0
    ) -> tuple[int, int]:
        """(technology, non-technical) fen of a receipt of `amount_fen` (negative for a refund)
        paying `milestone` (None: a deposit). `pro_rata_before_fen` is the pro-rata money the
        contract received before this receipt: the technology part is the rounded (half-up)
        share of the running total less that of the total before, and the rest takes the
        remainder, so nothing is created or lost."""
        part = self.designated.get(milestone) if milestone is not None else None
        if part is not None:
            return (amount_fen, 0) if part[0] == "technology" else (0, amount_fen)
        technology = self._share_of(pro_rata_before_fen + amount_fen) - self._share_of(
            pro_rata_before_fen
        )
        return technology, amount_fen - technology

    def _share_of(self, fen: int) -> int:
        technology_left = self.transaction_fen - sum(
            amount for kind, amount in self.designated.values() if kind == "technology"
        )
        total_left = self.total_fen - sum(amount for _, amount in self.designated.values())
        if total_left <= 0:
            technology_left, total_left = self.transaction_fen, self.total_fen
        if total_left <= 0:
            return fen
        ratio = Decimal(min(max(technology_left, 0), total_left)) / Decimal(total_left)
        share = int((Decimal(abs(fen)) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return share if fen >= 0 else -share

"""Tax rule sets as data (`data/rule_sets.json`: versions, effective dates, citations) and the
pure calculators that apply them. A new notice is a new rule-set version, not new code.

Every figure is integer fen; each calculator rounds half-up once, where it says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from app.core.money import Money

DATA = Path(__file__).parent / "data" / "rule_sets.json"
Kind = Literal[
    "vat_exemption", "eit_transfer_income", "rd_super_deduction", "researcher_reward_relief"
]


class RuleSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    version: int
    title: str
    effective_from: date
    effective_to: date | None
    citations: list[str]
    parameters: dict[str, Any]

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@cache
def rule_sets() -> tuple[RuleSet, ...]:
    return tuple(RuleSet.model_validate(entry) for entry in json.loads(DATA.read_text("utf-8")))


def rule_set(kind: Kind, on: date) -> RuleSet:
    """The latest version of a kind's rule set in force on `on`."""
    candidates = [r for r in rule_sets() if r.kind == kind and r.in_force(on)]
    if not candidates:
        raise LookupError(f"no {kind} rule set in force on {on}")
    return max(candidates, key=lambda r: r.version)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _fen(text: str) -> int:
    return Money.yuan(text).fen


# --- VAT exemption (财税〔2016〕36号 附件3 第一条第（二十六）项) --------------------------


@dataclass(frozen=True)
class VatReceipt:
    """One part of money received: all of a receipt, or its technology or non-technical part."""

    receipt_id: str
    contract_type: str
    registered: bool
    received_fen: int
    """Negative for a refund."""
    technical: bool = True
    """False for the part of a contract that is not technology (equipment, materials…)."""


@dataclass(frozen=True)
class VatLine:
    receipt_id: str
    received_fen: int
    exempt: bool
    reason: str | None
    """Why a receipt is not exempt (the filing lists it)."""


@dataclass(frozen=True)
class VatResult:
    exempt_sales_fen: int
    taxable_sales_fen: int
    vat_forgone_fen: int
    rate: Decimal
    lines: list[VatLine]


def vat_exemption(
    rules: RuleSet,
    *,
    taxpayer_kind: Literal["general", "small_scale"],
    receipts: Sequence[VatReceipt],
) -> VatResult:
    """A seller's exempt sales in a VAT period from money received (a line per receipt, in
    order). The exemption covers the technology: a contract's non-technical part is taxable
    (`non_technical_part`), as are contracts of other types or not registered. The VAT forgone
    is the exempt sales times the seller's rate, rounded half-up once (amounts received are
    tax-inclusive prices of exempt services, so no separation of tax is needed)."""
    parameters = rules.parameters
    rate = Decimal(parameters["rates"][taxpayer_kind])
    lines = []
    for receipt in receipts:
        reason = None
        if receipt.contract_type not in parameters["exempt_contract_types"]:
            reason = "contract_type"
        elif parameters["requires_registration"] and not receipt.registered:
            reason = "not_registered"
        elif not receipt.technical:
            reason = "non_technical_part"
        lines.append(VatLine(receipt.receipt_id, receipt.received_fen, reason is None, reason))
    exempt = sum(line.received_fen for line in lines if line.exempt)
    taxable = sum(line.received_fen for line in lines if not line.exempt)
    return VatResult(exempt, taxable, half_up(Decimal(exempt) * rate), rate, lines)


# --- Enterprise income tax on technology-transfer income (企业所得税法 第二十七条(四)) -----------


@dataclass(frozen=True)
class TransferTerms:
    """The terms of a contract that decide whether its income is technology-transfer income."""

    transfer: Literal["assignment", "licence"]
    exclusive: bool
    licence_years: int | None
    result_kind: str
    registered: bool
    related_party_100: bool
    signed_on: date


@dataclass(frozen=True)
class TransferContract(TransferTerms):
    contract_id: str
    revenue_fen: int
    costs_fen: int
    taxes_fen: int


@dataclass(frozen=True)
class Exclusion:
    contract_id: str
    reason: str


@dataclass(frozen=True)
class EitTotals:
    income_fen: int
    """Eligible revenue − costs − related taxes (may be negative)."""
    exempt_fen: int
    halved_fen: int
    """The excess over the threshold, of which half is taxable."""
    taxable_fen: int
    """The part of the income that stays taxable (half the excess)."""
    reduced_fen: int
    """Income taken out of tax: exempt part plus the untaxed half of the excess."""


@dataclass(frozen=True)
class EitResult(EitTotals):
    included: list[str]
    excluded: list[Exclusion]


def eit_exclusion(rules: RuleSet, contract: TransferTerms) -> str | None:
    """Why a contract's income is not technology-transfer income under the rules, or None."""
    parameters = rules.parameters
    if parameters["requires_registration"] and not contract.registered:
        return "not_registered"
    if contract.related_party_100:
        return "related_party"  # 财税〔2010〕111号 第三条
    if contract.result_kind not in parameters["eligible_result_kinds"]:
        return "result_kind"
    if contract.transfer == "licence":
        if (contract.licence_years or 0) < parameters["licence_min_years"]:
            return "licence_term"
        non_exclusive_from = date.fromisoformat(parameters["non_exclusive_licences_from"])
        if not contract.exclusive and contract.signed_on < non_exclusive_from:
            return "non_exclusive_before_2015_10"  # 财税〔2015〕116号 第二条
    return None


def eit_transfer_income(rules: RuleSet, contracts: Sequence[TransferContract]) -> EitResult:
    """A resident enterprise's technology-transfer income for a tax year from its contracts:
    the eligible ones' income (`eit_exclusion`) and its totals (`eit_totals`)."""
    included, excluded = [], []
    income = 0
    for contract in contracts:
        reason = eit_exclusion(rules, contract)
        if reason:
            excluded.append(Exclusion(contract.contract_id, reason))
            continue
        included.append(contract.contract_id)
        income += contract.revenue_fen - contract.costs_fen - contract.taxes_fen
    totals = eit_totals(rules, income)
    return EitResult(**vars(totals), included=included, excluded=excluded)


def eit_totals(rules: RuleSet, income_fen: int) -> EitTotals:
    """What a year's technology-transfer income leaves taxable: up to 5,000,000 CNY exempt,
    half of the excess taxable (国税函〔2009〕212号, 财税〔2010〕111号). Income is revenue less
    transfer costs and related taxes; a loss is carried as negative income (nothing exempt).
    Halving rounds half-up once."""
    parameters = rules.parameters
    threshold = _fen(parameters["exempt_up_to"])
    exempt = min(max(income_fen, 0), threshold)
    excess = max(income_fen - threshold, 0)
    taxable = half_up(Decimal(excess) * Decimal(parameters["excess_taxable_share"]))
    return EitTotals(
        income_fen=income_fen,
        exempt_fen=exempt,
        halved_fen=excess,
        taxable_fen=taxable,
        reduced_fen=exempt + (excess - taxable),
    )


# --- R&D super-deduction for commissioned development (财税〔2018〕64号) -------------------------


@dataclass(frozen=True)
class SuperDeduction:
    expense_fen: int
    counted_fen: int
    """80 % of the commissioned expense (财税〔2018〕64号 第二条)."""
    rate: Decimal
    deduction_fen: int


def rd_super_deduction(
    rules: RuleSet, *, expense_fen: int, paid_on: date, industry: str, manufacturing: bool
) -> SuperDeduction | None:
    """The extra deduction on commissioned R&D paid on `paid_on`, or None for an excluded
    industry. Counted expense and deduction each round half-up once."""
    parameters = rules.parameters
    if industry in parameters["excluded_industries"]:
        return None
    rate = next(
        Decimal(band["manufacturing" if manufacturing else "general"])
        for band in parameters["rates"]
        if date.fromisoformat(band["from"]) <= paid_on
        and (band["to"] is None or paid_on <= date.fromisoformat(band["to"]))
    )
    counted = half_up(Decimal(expense_fen) * Decimal(parameters["commissioned_share"]))
    return SuperDeduction(expense_fen, counted, rate, half_up(Decimal(counted) * rate))


# --- Researchers' cash rewards (财税〔2018〕58号) -----------------------------------------


@dataclass(frozen=True)
class RewardRelief:
    reward_fen: int
    taxable_fen: int
    relieved_fen: int
    conditions_met: bool


def researcher_reward_relief(
    rules: RuleSet,
    *,
    reward_fen: int,
    contract_registered: bool,
    reward_published: bool,
    income_received_on: date,
    reward_paid_on: date,
) -> RewardRelief:
    """Half of a researcher's cash reward counts toward the month's wages when the conditions
    hold (registered contract, the reward made public, paid within 3 years of the income);
    otherwise all of it. The taxable half rounds half-up once."""
    parameters = rules.parameters
    years = int(parameters["within_years"])
    try:
        deadline = income_received_on.replace(year=income_received_on.year + years)
    except ValueError:  # 29 February
        deadline = income_received_on.replace(year=income_received_on.year + years, day=28)
    met = contract_registered and reward_published and reward_paid_on <= deadline
    taxable = (
        half_up(Decimal(reward_fen) * Decimal(parameters["taxable_share"])) if met else reward_fen
    )
    return RewardRelief(reward_fen, taxable, reward_fen - taxable, met)

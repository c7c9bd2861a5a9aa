"""Reward policies (奖补政策) as data: `data/policies.json`, each with a code, a version,
effective dates, the beneficiary, who and what qualifies, rate tiers, caps and its source.

A new notice is a new entry, not an edit of code: a policy replaced mid-year is a new version
with its own effective dates; the policy in force on a contract's registration date decides its
rewards. Amounts in the file are yuan strings, rates decimals; here they are fen and Decimal.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.brokers.tiers import Tier
from app.core.errors import ValidationFailed
from app.core.money import Money

DATA = Path(__file__).parent / "data" / "policies.json"
Beneficiary = Literal["broker", "transfer_agency", "buyer", "seller"]


class _TierData(BaseModel):
    upper: Decimal | None
    rate: Decimal = Field(ge=0, le=1)


class _ScoreBand(BaseModel):
    minimum: Decimal = Field(ge=0, le=100)
    percent: Decimal = Field(gt=0, le=100)


class RewardPolicy(BaseModel):
    """One version of a reward policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    version: int = Field(ge=1)
    title: str
    region: str = Field(pattern=r"^\d{2,6}$", description="Division-code prefix it covers.")
    beneficiary: Beneficiary
    effective_from: date
    effective_to: date | None
    contract_types: list[str]
    broker_levels: list[str] | None = None
    tiers: list[_TierData] = Field(min_length=1)
    score_bands: list[_ScoreBand] | None = Field(
        default=None,
        description="Transfer agencies: the percent of the tiered amount paid by the yearly "
        "evaluation's total (the highest band at or below it); none below the lowest band.",
    )
    contract_cap: Decimal | None
    year_cap: Decimal | None
    agency_year_cap: Decimal | None
    minimum_contract: Decimal | None
    pro_rata_to_received: bool
    example: bool = Field(description="A configurable example, not a cited rule.")
    source: str

    def rate_tiers(self) -> list[Tier]:
        return [
            Tier(None if t.upper is None else Money.yuan(t.upper).fen, t.rate) for t in self.tiers
        ]

    @staticmethod
    def fen(value: Decimal | None) -> int | None:
        return None if value is None else Money.yuan(value).fen

    def band_percent(self, total: Decimal) -> Decimal | None:
        """The percent an evaluation's total earns: its highest band, None below them all
        (100 when the policy has no bands)."""
        if self.score_bands is None:
            return Decimal(100)
        reached = [band for band in self.score_bands if band.minimum <= total]
        return max(reached, key=lambda band: band.minimum).percent if reached else None

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@cache
def all_policies() -> tuple[RewardPolicy, ...]:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    return tuple(RewardPolicy.model_validate(entry) for entry in raw)


def policy_versions(code: str) -> list[RewardPolicy]:
    return sorted((p for p in all_policies() if p.code == code), key=lambda p: p.version)


def policy_in_force(code: str, on: date) -> RewardPolicy | None:
    """The latest version of a policy whose effective dates cover `on`."""
    candidates = [p for p in policy_versions(code) if p.in_force(on)]
    return candidates[-1] if candidates else None


def policy_for(code: str | None, beneficiaries: set[str], *, on: date, region: str) -> RewardPolicy:
    """The policy a claim is filed under: the one named (in force on `on`, for one of the
    beneficiaries), or else the only one in force for them whose region covers `region`.
    Raises ValidationFailed(body.policy_code): `policy_not_applicable`, or `missing` when none
    or several would fit."""
    if code is not None:
        policy = policy_in_force(code, on)
        if policy is None or policy.beneficiary not in beneficiaries:
            raise ValidationFailed("body.policy_code", "policy_not_applicable")
        return policy
    fitting = [
        p
        for p in all_policies()
        if p.beneficiary in beneficiaries and p.in_force(on) and region.startswith(p.region)
    ]
    if len({p.code for p in fitting}) != 1:
        raise ValidationFailed("body.policy_code", "missing")
    return max(fitting, key=lambda p: p.version)

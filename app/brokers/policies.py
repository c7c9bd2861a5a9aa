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
from app.core.money import Money

DATA = Path(__file__).parent / "data" / "policies.json"
Beneficiary = Literal["broker", "transfer_agency", "buyer", "seller"]


class _TierData(BaseModel):
    upper: Decimal | None
    rate: Decimal = Field(ge=0, le=1)


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

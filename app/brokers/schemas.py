"""API shapes of the brokers package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.accounts.schemas import Reason, Strict
from app.brokers.models import BrokerRole, ClaimKind, ClaimState
from app.core.money import Money


class ClaimCreate(Strict):
    """A broker's attribution (`kind: broker`, with role and share), a party's post-subsidy
    application (`kind: party`) — both on a deal — or a transfer agency's post-subsidy
    application for a finished year (`kind: agency`, with the year)."""

    kind: Literal[ClaimKind.broker, ClaimKind.party, ClaimKind.agency]
    deal_id: uuid.UUID | None = Field(default=None, description="broker and party: the deal.")
    year: int | None = Field(
        default=None, ge=2000, le=2100, description="agency: the year of service claimed for."
    )
    role: BrokerRole | None = Field(
        default=None,
        description="sourcing 项目挖掘, matching 供需对接, negotiation 商务谈判, drafting 合同起草",
    )
    share: Decimal | None = Field(
        default=None, gt=0, le=100, decimal_places=2, description="Percent of the reward."
    )
    organization_id: uuid.UUID | None = Field(
        default=None, description="party: the applying party (defaults to your only one)."
    )
    policy_code: str | None = Field(
        default=None, description="The policy; defaults to the one that applies in the region."
    )

    @model_validator(mode="after")
    def _fields_by_kind(self) -> ClaimCreate:
        if self.kind == ClaimKind.broker and (self.role is None or self.share is None):
            raise PydanticCustomError("broker_claim_fields", "a broker claims a role and a share")
        if self.kind != ClaimKind.broker and (self.role is not None or self.share is not None):
            raise PydanticCustomError("party_claim_fields", "a party claims no role or share")
        agency = self.kind == ClaimKind.agency
        if agency != (self.deal_id is None) or agency != (self.year is not None):
            raise PydanticCustomError(
                "agency_claim_fields", "an agency claims a year; brokers and parties a deal"
            )
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "broker",
                    "deal_id": "9b2f0c1e-4d5a-4b6c-8d7e-1f2a3b4c5d6e",
                    "role": "matching",
                    "share": "30",
                }
            ]
        }
    )


class ClaimResponse(Strict):
    reason: Reason | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "该经纪人未参与本次交易"}]}
    )


class ClaimOut(BaseModel):
    id: uuid.UUID
    kind: ClaimKind
    deal_id: uuid.UUID | None = Field(description="None for an agency's yearly claim.")
    agency_claim_id: uuid.UUID | None = Field(
        description="An agency's share: the agency's claim it is part of."
    )
    policy_code: str
    policy_year: int
    broker_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    role: BrokerRole | None
    share: Decimal
    state: ClaimState
    filed_at: datetime
    dispute_reason: str | None
    rejection_reason: str | None


Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)]


class BrokerShares(Strict):
    """The part of an agency's post-subsidy it passes to its brokers
    (机构可提取一定比例奖励技术经纪人)."""

    shares: dict[uuid.UUID, Percent] = Field(
        description="Broker id → percent of the agency's subsidy; together at most 100. "
        "Brokers left out of a new split keep 0."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"shares": {"3f1c2b7e-0a4d-4e59-9c1e-5b7a8d9e0f12": "30"}}]}
    )


class RewardOut(BaseModel):
    claim: ClaimOut
    amount: Money
    paid: Money
    policy_code: str
    policy_version: int
    working: dict[str, Any] = Field(
        description="Tier lines, share, pro rata, rounding and caps, as computed last."
    )
    computed_at: datetime


class YearTotalOut(BaseModel):
    policy_code: str
    year: int
    broker_id: uuid.UUID | None = Field(description="The beneficiary: you as a broker …")
    organization_id: uuid.UUID | None = Field(description="… or one of your organizations.")
    total: Money
    paid: Money
    year_cap: Money | None


class PayoutRun(Strict):
    period: str = Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2026-11"])


class RewardPayoutOut(BaseModel):
    id: uuid.UUID
    period: str
    broker_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    amount: Money
    provider: str
    reference: str
    paid_at: datetime


class TierOut(BaseModel):
    upper: Money | None
    rate: Decimal


class PolicyOut(BaseModel):
    code: str
    version: int
    title: str
    region: str
    beneficiary: Literal["broker", "transfer_agency", "buyer", "seller"]
    effective_from: date
    effective_to: date | None
    contract_types: list[str]
    broker_levels: list[str] | None
    tiers: list[TierOut]
    contract_cap: Money | None
    year_cap: Money | None
    agency_year_cap: Money | None
    minimum_contract: Money | None
    pro_rata_to_received: bool
    example: bool
    source: str


class AgencyIndicatorsOut(BaseModel):
    """A transfer agency's service performance of a year (服务绩效): what its yearly evaluation
    starts from."""

    agency_id: uuid.UUID
    year: int
    contracts: int = Field(
        description="Contracts registered in the year with one of the agency's brokers named."
    )
    amount: Money = Field(description="Their 技术交易额 as registered (核定).")
    clients: int = Field(description="Organizations on either side of them.")
    region_contracts: int = Field(
        description="Contracts registered in the year by sellers in the agency's province."
    )
    region_share: Decimal | None = Field(
        description="contracts ÷ region_contracts, four decimals.", examples=["0.0125"]
    )


Score = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class AgencyEvaluationIn(Strict):
    scores: dict[str, Score] = Field(
        description="One score per criterion of the score sheet (`GET /v1/agency-score-sheet`),"
        " between 0 and the criterion's weight.",
        min_length=1,
    )
    note: str | None = Field(default=None, max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scores": {
                        "basic_conditions": "8",
                        "service_performance": "24.5",
                        "service_capacity": "22",
                        "management": "16",
                        "reputation": "9",
                    },
                    "note": "材料齐全，现场核查通过",
                }
            ]
        }
    )


class AgencyEvaluationOut(BaseModel):
    """A transfer agency's yearly evaluation (年度绩效评价)."""

    agency_id: uuid.UUID
    year: int
    sheet_version: int
    scores: dict[str, Decimal]
    total: Decimal
    passed: bool
    indicators: AgencyIndicatorsOut = Field(description="As the reviewers saw them.")
    note: str | None
    evaluated_at: datetime

"""API shapes of the challenges package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from app.accounts.schemas import Reason, Strict
from app.challenges.models import AwardState, ChallengeState, ObjectionState, ProposalState
from app.core.money import Money, NonNegativeMoney, PositiveMoney
from app.core.openapi import NOT_BLANK
from app.deals.schemas import Subject
from app.results.schemas import FieldCode

Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NOT_BLANK
]


class Indicator(Strict):
    """A technical indicator the solution must reach (指标)."""

    name: Line
    target: Line


class Attachment(Strict):
    title: Line
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class ChallengeTerms(Strict):
    """What an enterprise publishes: the problem, the indicators, the money and the deadline."""

    title: Subject | None = Field(
        default=None,
        description="Defaults to the demand's title; the development contract's subject if it "
        "is awarded.",
    )
    problem: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=20, max_length=10000), NOT_BLANK
    ] = Field(description="The problem to solve (需求描述), at least 20 characters.")
    indicators: list[Indicator] = Field(min_length=1, max_length=20)
    field_code: FieldCode | None = Field(
        default=None, description="Defaults to the demand's technology field."
    )
    budget_min: NonNegativeMoney | None = None
    budget_max: PositiveMoney | None = None
    prize: PositiveMoney | None = Field(
        default=None, description="A fixed prize (揭榜奖金) instead of a budget range."
    )
    proposals_due_at: AwareDatetime = Field(description="The deadline for proposals (揭榜截止).")
    open_beyond_region: bool = Field(
        default=True, description="Whether organizations outside the owner's province may bid."
    )
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "problem": "稀土抛光粉在高端光学玻璃加工中寿命不足，需提升切削力与使用寿命。",
                    "indicators": [{"name": "使用寿命", "target": "≥ 现有产品的 1.5 倍"}],
                    "prize": {"amount": "1000000", "currency": "CNY"},
                    "proposals_due_at": "2027-03-31T16:00:00Z",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _budget_or_prize(self) -> ChallengeTerms:
        ranged = self.budget_min is not None or self.budget_max is not None
        if ranged == (self.prize is not None):
            raise PydanticCustomError("budget_or_prize", "give a budget range or a prize")
        low, high = self.budget_min, self.budget_max
        if low is not None and high is not None and high.fen < low.fen:
            raise PydanticCustomError("range_inverted", "the maximum is below the minimum")
        return self


class ChallengeCreate(ChallengeTerms):
    demand_id: uuid.UUID = Field(description="Your organization's open demand (技术需求).")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "demand_id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
                    "problem": "稀土抛光粉在高端光学玻璃加工中寿命不足，需提升切削力与使用寿命。",
                    "indicators": [{"name": "使用寿命", "target": "≥ 现有产品的 1.5 倍"}],
                    "budget_min": {"amount": "500000", "currency": "CNY"},
                    "budget_max": {"amount": "1000000", "currency": "CNY"},
                    "proposals_due_at": "2027-03-31T16:00:00Z",
                }
            ]
        }
    )


class ChallengeApproval(Strict):
    window_days: int = Field(
        ge=1, le=90, description="The publication window (发榜公示期) in Beijing days."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"window_days": 10}]})


class ChallengeRejection(Strict):
    reasons: list[Reason] = Field(min_length=1, max_length=20)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reasons": ["预算与指标难度不匹配，请调整后再提交"]}]}
    )


class ChallengeOut(BaseModel):
    id: uuid.UUID
    demand_id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    problem: str
    indicators: list[Indicator]
    field_code: str
    budget_min: Money | None
    budget_max: Money | None
    prize: Money | None
    proposals_due_at: datetime
    open_beyond_region: bool
    attachments: list[Attachment]
    state: ChallengeState
    rejection_reasons: list[str] | None
    published_at: datetime | None
    window_days: int | None
    submitted_at: datetime


class TeamMember(Strict):
    name: Line
    role: Line


class ProposalMilestone(Strict):
    description: Line
    due_on: date
    amount: PositiveMoney


class ProposalTerms(Strict):
    """A proposal (揭榜方案): how, who, when, for how much, on what results."""

    approach: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=20, max_length=20000), NOT_BLANK
    ] = Field(description="The technical approach (技术路线), at least 20 characters.")
    team: list[TeamMember] = Field(min_length=1, max_length=50)
    schedule: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=5000), NOT_BLANK
    ]
    milestones: list[ProposalMilestone] = Field(
        min_length=1,
        max_length=20,
        description="Adding up to the price: the development contract's milestones if it wins.",
    )
    price: PositiveMoney
    result_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=20, description="Your organization's results it uses."
    )

    @model_validator(mode="after")
    def _milestones_add_up(self) -> ProposalTerms:
        if sum(m.amount.fen for m in self.milestones) != self.price.fen:
            raise PydanticCustomError("milestones_sum", "the milestones add up to the price")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "approach": "采用电热膜与疏冰涂层复合方案，在叶片前缘分区加热，按需启停。",
                    "team": [{"name": "张教授", "role": "项目负责人"}],
                    "schedule": "第一阶段样机六个月，第二阶段风场验证六个月。",
                    "milestones": [
                        {
                            "description": "样机交付",
                            "due_on": "2027-09-30",
                            "amount": {"amount": "400000", "currency": "CNY"},
                        },
                        {
                            "description": "风场验证",
                            "due_on": "2028-03-31",
                            "amount": {"amount": "400000", "currency": "CNY"},
                        },
                    ],
                    "price": {"amount": "800000", "currency": "CNY"},
                }
            ]
        }
    )


class ProposalCreate(ProposalTerms):
    organization_id: uuid.UUID | None = Field(
        default=None, description="The submitting organization (defaults to your only one)."
    )


class ProposalMilestoneOut(BaseModel):
    description: str
    due_on: date
    amount: Money


class ProposalOut(BaseModel):
    id: uuid.UUID
    challenge_id: uuid.UUID
    organization_id: uuid.UUID
    approach: str
    team: list[TeamMember]
    schedule: str
    milestones: list[ProposalMilestoneOut]
    price: Money
    result_ids: list[uuid.UUID]
    state: ProposalState
    submitted_at: datetime
    withdrawn_at: datetime | None


Score = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class ExpertAssignment(Strict):
    user_id: uuid.UUID = Field(description="The expert's account (staff or outside expert).")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "4c2b1a0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"}]}
    )


class ExpertOut(BaseModel):
    id: uuid.UUID
    challenge_id: uuid.UUID
    user_id: uuid.UUID
    assigned_at: datetime


class ProposalScoring(Strict):
    scores: dict[str, Score] = Field(
        description="One score per criterion of the sheet (GET /v1/proposal-score-sheet), "
        "between 0 and the criterion's weight.",
        min_length=1,
    )
    no_conflict: bool = Field(
        description="利益冲突声明: you have no interest in this proposal (it is not your "
        "organization's; you have no other tie to its submitter). Must be true."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scores": {
                        "technical_indicators": "34",
                        "research_basis": "20",
                        "industrial_impact": "16",
                        "price": "12",
                    },
                    "no_conflict": True,
                }
            ]
        }
    )


class ScoreOut(BaseModel):
    proposal_id: uuid.UUID
    expert_id: uuid.UUID
    sheet_version: int
    scores: dict[str, Decimal]
    total: Decimal
    scored_at: datetime


class RankedProposalOut(BaseModel):
    rank: int
    proposal_id: uuid.UUID
    organization_id: uuid.UUID
    price: Money
    mean: Decimal = Field(description="The mean of the experts' totals (two decimals, half-up).")
    scores: list[ScoreOut]


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), NOT_BLANK
]


class AwardDecision(Strict):
    """The owner's decision once the ranking is complete: a ranked proposal wins, or none is
    suitable (`proposal_id` null) and `reason` says why (流榜)."""

    proposal_id: uuid.UUID | None = Field(
        description="The winning proposal, one of the ranking's; null when none is suitable."
    )
    reason: Text | None = Field(
        default=None,
        description="Why no proposal is suitable (required then), or why the winner is not the "
        "first ranked (optional).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"proposal_id": "7d3c2b1a-0e9f-4a8b-9c7d-6e5f4a3b2c1d"},
                {"proposal_id": None, "reason": "所有方案均未达到榜单的关键指标"},
            ]
        }
    )


class AwardOut(BaseModel):
    challenge_id: uuid.UUID
    proposal_id: uuid.UUID | None
    winner_organization_id: uuid.UUID | None
    price: Money | None = Field(description="The winning proposal's price.")
    reason: str | None
    state: AwardState
    decided_at: datetime
    publicity_working_days: int | None
    publicity_ends_at: datetime | None = Field(
        description="Objections are taken until then (公示期, working days, Beijing)."
    )
    confirmed_at: datetime | None
    deal_id: uuid.UUID | None = Field(
        description="The deal opened with the winner once the award stood (its parties and "
        "staff only)."
    )


class ObjectionCreate(Strict):
    grounds: Text = Field(description="What is objected to, and the facts (异议理由).")
    organization_id: uuid.UUID | None = Field(
        default=None, description="Your organization (default: your only one)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"grounds": "中选方案引用的专利已于2025年失效，与申报材料不符"}]
        }
    )


class ObjectionResolution(Strict):
    upheld: bool = Field(
        description="true: the objection stands (异议成立) and the award is revoked — the owner "
        "decides again; false: dismissed (异议不成立)."
    )
    resolution: Text = Field(description="The finding, as told to the objector and the owner.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"upheld": False, "resolution": "经核查，相关专利处于有效状态，异议不成立"}
            ]
        }
    )


class ObjectionOut(BaseModel):
    id: uuid.UUID
    challenge_id: uuid.UUID
    organization_id: uuid.UUID
    grounds: str
    filed_at: datetime
    state: ObjectionState
    resolution: str | None
    resolved_at: datetime | None


class ChallengeSearchHit(BaseModel):
    challenge: ChallengeOut
    highlights: dict[str, str] = Field(description="`title`, `problem` with <em> around matches.")


class ChallengeSearchPage(BaseModel):
    hits: list[ChallengeSearchHit]
    total: int
    facets: dict[str, dict[str, int]] = Field(
        description="Counts per value of field_parent, status and budget_band over every hit "
        "(not just this page)."
    )
    next_cursor: str | None

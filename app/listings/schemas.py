"""API shapes of the listings package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.accounts.schemas import Reason, Strict
from app.core.money import Money, NonNegativeMoney
from app.listings.models import (
    LICENCES,
    ListingMode,
    ListingOutcome,
    ListingState,
    TransferType,
)
from app.results.models import ResultKind
from app.results.taxonomy import Stage


class ListingTerms(Strict):
    """What an owner offers: shared by create and replace."""

    mode: ListingMode = Field(description="fixed_price 挂牌价, negotiable 面议, auction 竞价.")
    transfer_type: TransferType
    licence_years: int | None = Field(
        default=None, ge=1, le=50, validate_default=True, description="Licences only: the term."
    )
    price: NonNegativeMoney | None = Field(
        default=None,
        validate_default=True,
        description="Asking price (fixed price) or starting price (auction); omit when negotiable.",
    )
    window_days: int = Field(
        ge=1,
        le=365,
        description="Publication window (公示期) in days; at least 15 for universities.",
    )
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None
    ) = None

    @field_validator("licence_years")
    @classmethod
    def _licence_needs_a_term(cls, value: int | None, info: ValidationInfo) -> int | None:
        transfer_type = info.data.get("transfer_type")
        if transfer_type in LICENCES and value is None:
            raise PydanticCustomError("licence_years_required", "a licence needs its term")
        if transfer_type is not None and transfer_type not in LICENCES and value is not None:
            raise PydanticCustomError("licence_years_not_allowed", "only licences have a term")
        return value

    @field_validator("price")
    @classmethod
    def _price_fits_the_mode(cls, value: Money | None, info: ValidationInfo) -> Money | None:
        mode = info.data.get("mode")
        if mode == ListingMode.negotiable and value is not None:
            raise PydanticCustomError("price_not_allowed", "a negotiable listing has no price")
        if mode in {ListingMode.fixed_price, ListingMode.auction} and (
            value is None or value.fen == 0
        ):
            raise PydanticCustomError("price_required", "this mode needs a price above zero")
        return value

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "auction",
                    "transfer_type": "exclusive_licence",
                    "licence_years": 5,
                    "price": {"amount": "500000.00", "currency": "CNY"},
                    "window_days": 20,
                }
            ]
        }
    )


class ListingCreate(ListingTerms):
    result_id: uuid.UUID

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "result_id": "0b0f1c3e-6d2a-4c55-9a61-2f4f3b8e9d10",
                    "mode": "fixed_price",
                    "transfer_type": "assignment",
                    "price": {"amount": "800000.00", "currency": "CNY"},
                    "window_days": 15,
                    "description": "可提供工艺包与技术指导。",
                }
            ]
        }
    )


class ReviewRejection(Strict):
    reason: Reason

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "专利法律状态证明材料缺失"}]}
    )


class Withdrawal(Strict):
    reason: Reason | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "成果已另行转让"}]})


class ResultSummary(BaseModel):
    id: uuid.UUID
    title: str
    kind: ResultKind
    ip_number: str | None
    field_code: str
    field_label: str
    trl: int
    stage: Stage
    division_code: str


class ListingOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    result: ResultSummary
    description: str | None
    mode: ListingMode
    transfer_type: TransferType
    licence_years: int | None
    price: Money | None
    window_days: int
    state: ListingState
    outcome: ListingOutcome | None
    next_states: list[ListingState] = Field(description="States this listing may move to.")
    published_at: datetime | None
    window_ends_at: datetime | None
    closed_at: datetime | None
    rejection_reason: str | None
    intent_count: int
    created_at: datetime


class TransitionOut(BaseModel):
    from_state: ListingState | None
    to_state: ListingState
    outcome: ListingOutcome | None
    actor_id: uuid.UUID | None
    reason: str | None
    at: datetime


class IntentCreate(Strict):
    organization_id: uuid.UUID | None = Field(
        default=None,
        description="The enterprise registering intent; may be omitted when you belong to one.",
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "拟用于产线升级，希望尽快洽谈"}]}
    )


class IntentOut(BaseModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    note: str | None
    created_at: datetime


ListingScope = Literal["market", "mine"]

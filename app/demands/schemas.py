"""API shapes of the demands package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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

from app.accounts.schemas import DivisionCode, Strict
from app.core.money import Money, NonNegativeMoney
from app.core.openapi import NOT_BLANK
from app.demands.models import DemandState
from app.listings.models import ListingMode, TransferType
from app.results.models import ResultKind
from app.results.schemas import FieldCode

Text200 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), NOT_BLANK
]


class DemandCreate(Strict):
    organization_id: uuid.UUID
    title: Text200
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000), NOT_BLANK
    ]
    field_code: FieldCode
    budget_min: NonNegativeMoney | None = None
    budget_max: NonNegativeMoney | None = None
    division_code: DivisionCode
    deadline: date | None = None

    @field_validator("budget_max")
    @classmethod
    def _range(cls, value: Money | None, info: ValidationInfo) -> Money | None:
        low = info.data.get("budget_min")
        if value is not None and low is not None and value.fen < low.fen:
            raise PydanticCustomError("range_inverted", "the maximum is below the minimum")
        return value


class DemandOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    description: str
    field_code: str
    budget_min: Money | None
    budget_max: Money | None
    division_code: str
    deadline: date | None
    state: DemandState
    created_at: datetime


class SearchFilters(Strict):
    """The filters of GET /v1/search/listings, kept with a saved search."""

    field: FieldCode | None = None
    kind: ResultKind | None = None
    transfer_type: TransferType | None = None
    mode: ListingMode | None = None
    region: Annotated[str, StringConstraints(pattern=r"^\d{2}(\d{2}(\d{2})?)?$")] | None = None
    price_min: NonNegativeMoney | None = None
    price_max: NonNegativeMoney | None = None
    maturity: Literal["laboratory", "small_scale", "pilot", "industrialized"] | None = None


class SavedSearchCreate(Strict):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NOT_BLANK
    ]
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    filters: SearchFilters = Field(default_factory=SearchFilters)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "稀土新材料", "q": "稀土 永磁", "filters": {"field": "new_materials"}}
            ]
        }
    )


class SavedSearchOut(BaseModel):
    id: uuid.UUID
    name: str
    q: str
    filters: SearchFilters
    created_at: datetime

"""API shapes of the results catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.accounts.schemas import DivisionCode, Strict
from app.core.openapi import NOT_BLANK
from app.results.identifiers import (
    IPC_PATTERN,
    normalize_ipc,
    normalize_patent_number,
    normalize_software_number,
    patent_kind_digit,
)
from app.results.models import PATENT_KIND_DIGITS, LegalStatus, ResultKind
from app.results.taxonomy import Stage, fields, normalize_field

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), NOT_BLANK
]
Abstract = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000), NOT_BLANK
]
Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), NOT_BLANK
]
IpcCode = Annotated[
    str,
    AfterValidator(normalize_ipc),
    Field(json_schema_extra={"pattern": IPC_PATTERN}, examples=["H01F 1/057"]),
]
FieldCode = Annotated[
    str,
    AfterValidator(normalize_field),
    Field(
        description="A code of GET /v1/taxonomy/fields.",
        examples=["new_materials.rare_earths"],
        json_schema_extra={"enum": sorted(fields())},
    ),
]


class InventorIn(Strict):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NOT_BLANK
    ]
    share: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        decimal_places=2,
        description="Percent; all shares add up to 100.",
    )


class InventorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    share: Decimal | None


class ResultFields(Strict):
    """What describes a result; shared by create, update and import."""

    title: Title
    abstract: Abstract
    keywords: list[Keyword] = Field(default_factory=list, max_length=20)
    kind: ResultKind
    ip_number: str | None = Field(
        default=None,
        max_length=20,
        validate_default=True,
        description="Patent application number with check character (`202310123456.7`) or "
        "software copyright registration number (`2023SR0123456`).",
    )
    ipc_codes: list[IpcCode] = Field(default_factory=list, max_length=20, examples=[["H01F 1/057"]])
    legal_status: LegalStatus
    field_code: FieldCode
    trl: int = Field(ge=1, le=9, description="Technology readiness level (技术成熟度) 1–9.")
    publicly_funded: bool = False
    division_code: DivisionCode
    inventors: list[InventorIn] = Field(default_factory=list, max_length=50)

    @field_validator("ip_number")
    @classmethod
    def _identifier_fits_the_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        return value if kind is None else normalize_ip_number(kind, value)

    @field_validator("inventors")
    @classmethod
    def _shares_add_up(cls, inventors: list[InventorIn]) -> list[InventorIn]:
        shares = [inventor.share for inventor in inventors if inventor.share is not None]
        if shares and (len(shares) != len(inventors) or sum(shares) != 100):
            raise PydanticCustomError("inventor_shares", "inventor shares must add up to 100")
        return inventors


def normalize_ip_number(kind: ResultKind, number: str | None) -> str | None:
    """Validate the identifier a kind of result carries; patents and software need one."""
    if kind in PATENT_KIND_DIGITS:
        if not number:
            raise PydanticCustomError("ip_number_required", "this kind needs its number")
        normalized = normalize_patent_number(number)
        if patent_kind_digit(normalized) not in PATENT_KIND_DIGITS[kind]:
            raise PydanticCustomError("patent_kind_mismatch", "number is of another patent kind")
        return normalized
    if kind == ResultKind.software_copyright:
        if not number:
            raise PydanticCustomError("ip_number_required", "this kind needs its number")
        return normalize_software_number(number)
    return number.strip() if number else None


class ResultCreate(ResultFields):
    organization_id: uuid.UUID


class ResultUpdate(ResultFields):
    """A full replacement (PUT): a kind and its identifier always travel together."""


class ResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    abstract: str
    keywords: list[str]
    kind: ResultKind
    ip_number: str | None
    ipc_codes: list[str]
    legal_status: LegalStatus
    field_code: str
    field_label: str
    trl: int
    stage: Stage = Field(
        description="实验室 laboratory / 小试 small_scale / 中试 pilot / 产业化 industrialized"
    )
    publicly_funded: bool
    division_code: str
    inventors: list[InventorOut]
    created_at: datetime
    updated_at: datetime


class RowError(BaseModel):
    row: int = Field(description="1-based row number in the file, the header being row 1.")
    field: str
    code: str
    message: str


class ImportReport(BaseModel):
    mode: Literal["all_or_nothing", "valid_rows"]
    rows: int
    imported: int
    rejected: int
    errors: list[RowError]


class TaxonomyField(BaseModel):
    code: str
    parent: str | None
    zh: str
    en: str

"""API shapes of the tax package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.accounts.schemas import Reason, Strict
from app.tax.models import FilingKind, FilingState


class RuleSetOut(BaseModel):
    kind: str
    version: int
    title: str
    effective_from: date
    effective_to: date | None
    citations: list[str]
    parameters: dict[str, Any]


class FilingRequest(Strict):
    kind: FilingKind
    period: str = Field(
        pattern=r"^20[0-9]{2}(-(0[1-9]|1[0-2]|Q[1-4]))?$",
        examples=["2026", "2026-10", "2026-Q4"],
        description="`YYYY` for the annual kinds (income tax, super-deduction), `YYYY-MM` for "
        "the monthly ones (researchers' reward relief, monthly VAT), `YYYY-Qn` for quarterly "
        "VAT filers.",
    )
    taxpayer_id: uuid.UUID | None = Field(
        default=None, description="Your organization (default: your only one); staff: any."
    )


class FilingOut(BaseModel):
    id: uuid.UUID
    taxpayer_organization_id: uuid.UUID
    kind: FilingKind
    period: str
    version: int
    state: FilingState
    content_sha256: str
    rule_set_version: int
    amends_id: uuid.UUID | None
    computed_at: datetime
    submitted_at: datetime | None
    receipt: dict[str, Any] | None
    rejection_reason: str | None
    content: dict[str, Any] = Field(
        description="Lines that trace to contracts and payments, totals, exclusions with "
        "reasons, the rule-set version and its citations."
    )


class FilingDecision(Strict):
    decision: Literal["accepted", "rejected"]
    reason: Reason | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"decision": "accepted"}]})

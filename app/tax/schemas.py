"""API shapes of the tax package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

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
        pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$",
        examples=["2026", "2026-10"],
        description="`YYYY` for annual kinds (income tax), `YYYY-MM` for monthly ones (VAT).",
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

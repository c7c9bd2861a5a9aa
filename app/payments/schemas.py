"""API shapes of the payments package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.accounts.schemas import Reason, Strict
from app.core.money import Money
from app.payments.models import PaymentKind, PaymentState


class PaymentCreate(Strict):
    milestone: int = Field(ge=1, description="The milestone (付款节点) to pay.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"milestone": 1}]})


class PaymentOut(BaseModel):
    id: uuid.UUID
    deal_id: uuid.UUID
    kind: PaymentKind = Field(
        description="milestone: a payment of a milestone; deposit: the auction winner's deposit "
        "applied to the price (保证金转价款), received when the auction settled."
    )
    milestone: int | None = Field(description="The milestone paid; null for a deposit.")
    amount: Money
    state: PaymentState
    provider: str
    reference: str = Field(description="Put this in the transfer's remark (附言).")
    instructions: dict[str, Any]
    created_at: datetime
    received_at: datetime | None
    refunded_at: datetime | None
    refund_reason: str | None


class PayoutOut(BaseModel):
    id: uuid.UUID
    deal_id: uuid.UUID
    recipient_organization_id: uuid.UUID
    amount: Money
    provider: str
    reference: str
    paid_at: datetime


class Refund(Strict):
    reason: Reason

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "重复付款"}]})

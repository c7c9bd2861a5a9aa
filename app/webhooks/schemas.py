"""API shapes of the webhooks package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints

from app.webhooks.models import DeliveryState, EndpointState

EventType = Literal[
    "listing.published",
    "listing.closed",
    "intent.registered",
    "auction.opened",
    "auction.bid_placed",
    "auction.extended",
    "auction.closed",
    "deal.opened",
    "contract.signed",
    "contract.registered",
    "contract.registration_changed",
    "payment.received",
    "claim.approved",
    "agency.evaluated",
    "reward.computed",
    "payout.paid",
    "filing.ready",
    "filing.submitted",
    "demand.matched",
    "challenge.published",
    "proposal.submitted",
    "challenge.awarded",
    "challenge.objection_filed",
    "challenge.objection_resolved",
    "challenge.award_revoked",
    "challenge.concluded",
    "challenge.closed",
]
EVENT_TYPES = frozenset(get_args(EventType))
WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(Strict):
    url: WebhookUrl = Field(
        description="Where deliveries are POSTed: HTTPS, a public host.",
        examples=["https://erp.example.cn/hooks/techx"],
    )
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)
    organization_id: uuid.UUID | None = Field(
        default=None, description="Your organization (default: your only one)."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.cn/hooks/techx",
                    "event_types": ["listing.published", "contract.registered"],
                    "description": "企业ERP对接",
                }
            ]
        },
    )


class EndpointUpdate(Strict):
    url: WebhookUrl | None = None
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EVENT_TYPES)
    )
    description: str | None = Field(default=None, max_length=200)
    state: EndpointState | None = Field(
        default=None, description="`active` re-enables an endpoint disabled after failures."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"event_types": ["deal.opened", "contract.registered"]}]}
    )


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    state: EndpointState
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="Shown once: keep it to verify `Techx-Signature`.")


class SecretRotation(Strict):
    previous_secret_valid_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="How long deliveries are also signed with the old secret.",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"previous_secret_valid_hours": 24}]})


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    body: dict[str, Any]
    attempt_log: list[AttemptOut] = Field(default_factory=list)

"""API shapes of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime = Field(validation_alias="created_at")
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    action: str = Field(examples=["listing.published"])
    object_type: str = Field(examples=["listing"])
    object_id: str | None
    changes: dict[str, Any] = Field(description="The fields the change announced, after it.")
    before: dict[str, Any] | None = Field(
        description="The changed fields as they were before it (null for a creation, or a "
        "change that announces only its result).",
        examples=[{"state": "pending_review"}],
    )
    request_id: str | None
    address: str | None

"""Who may call the webhooks routes: an organization's people or its API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

WebhookManage = Annotated[Principal, Depends(Authenticator(scopes={"webhooks:write"}))]

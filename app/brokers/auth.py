"""Who may call the rewards routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

RewardRead = Annotated[Principal, Depends(Authenticator(scopes={"rewards:read"}))]
RewardWrite = Annotated[Principal, Depends(Authenticator(scopes={"rewards:write"}))]
RewardStaff = Annotated[
    Principal, Depends(Authenticator(scopes={"platform", "rewards:write"}, kinds={"user"}))
]

"""Who may call the challenges routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

ChallengeRead = Annotated[Principal, Depends(Authenticator(scopes={"listings:read"}))]
ChallengeWrite = Annotated[Principal, Depends(Authenticator(scopes={"listings:write"}))]
ChallengeReview = Annotated[
    Principal, Depends(Authenticator(scopes={"platform", "listings:write"}, kinds={"user"}))
]

"""Who may call the listings routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import AnonymousOr, Authenticator, Principal

ListingRead = Annotated[Principal, Depends(Authenticator(scopes={"listings:read"}))]
ListingReadOrPublic = Annotated[Principal | None, Depends(AnonymousOr(scopes={"listings:read"}))]
ListingWrite = Annotated[Principal, Depends(Authenticator(scopes={"listings:write"}))]
ListingReview = Annotated[
    Principal, Depends(Authenticator(scopes={"platform", "listings:write"}, kinds={"user"}))
]

"""Who may call the demands routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

DemandRead = Annotated[Principal, Depends(Authenticator(scopes={"listings:read"}))]
DemandWrite = Annotated[Principal, Depends(Authenticator(scopes={"listings:write"}))]
SavedSearchManage = Annotated[
    Principal, Depends(Authenticator(scopes={"listings:read"}, kinds={"user"}))
]

"""Who may call the deals routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

DealRead = Annotated[Principal, Depends(Authenticator(scopes={"deals:read"}))]
DealWrite = Annotated[Principal, Depends(Authenticator(scopes={"deals:write"}))]
Registrar = Annotated[
    Principal, Depends(Authenticator(scopes={"platform", "deals:write"}, kinds={"user"}))
]
RegistrarRead = Annotated[
    Principal, Depends(Authenticator(scopes={"platform", "deals:read"}, kinds={"user"}))
]

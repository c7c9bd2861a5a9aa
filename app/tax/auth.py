"""Who may call the tax routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

TaxRead = Annotated[Principal, Depends(Authenticator(scopes={"tax:read"}))]
TaxWrite = Annotated[Principal, Depends(Authenticator(scopes={"tax:write"}))]

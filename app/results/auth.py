"""Who may call the results routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

ResultRead = Annotated[Principal, Depends(Authenticator(scopes={"results:read"}))]
ResultWrite = Annotated[Principal, Depends(Authenticator(scopes={"results:write"}))]

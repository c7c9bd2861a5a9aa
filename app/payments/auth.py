"""Who may call the payments routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

FinanceStaff = Annotated[Principal, Depends(Authenticator(scopes={"platform"}, kinds={"user"}))]
"""Platform staff; the finance role is checked in the service."""

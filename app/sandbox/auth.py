"""Who may read and move the sandbox clock."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

ClockRead = Annotated[Principal, Depends(Authenticator())]
ClockMover = Annotated[Principal, Depends(Authenticator(scopes={"sandbox"}))]
"""A platform admin (checked by `require_clock_mover`) or an API key with the `sandbox` scope."""

"""Who may call the auctions routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

AuctionRead = Annotated[Principal, Depends(Authenticator(scopes={"listings:read"}))]
AuctionOrganize = Annotated[Principal, Depends(Authenticator(scopes={"listings:write"}))]
"""The seller's managers and reviewers change terms (checked in the service)."""
Bidding = Annotated[Principal, Depends(Authenticator(scopes={"bids:write"}))]
AuctionStaff = Annotated[Principal, Depends(Authenticator(scopes={"platform"}, kinds={"user"}))]

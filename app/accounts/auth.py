"""Who may call the accounts routes, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.auth import Authenticator, Principal

# People only: a person's own account and what only people may do.
PersonRead = Annotated[Principal, Depends(Authenticator(scopes={"profile:read"}, kinds={"user"}))]
PersonOrganizationWrite = Annotated[
    Principal, Depends(Authenticator(scopes={"organizations:write"}, kinds={"user"}))
]
PlatformStaff = Annotated[Principal, Depends(Authenticator(scopes={"platform"}, kinds={"user"}))]

OrganizationRead = Annotated[Principal, Depends(Authenticator(scopes={"organizations:read"}))]
OrganizationWrite = Annotated[Principal, Depends(Authenticator(scopes={"organizations:write"}))]

MemberRead = Annotated[Principal, Depends(Authenticator(scopes={"members:read"}))]
MemberWrite = Annotated[Principal, Depends(Authenticator(scopes={"members:write"}, kinds={"user"}))]

ApiKeyManage = Annotated[
    Principal, Depends(Authenticator(scopes={"api_keys:write"}, kinds={"user"}))
]

BrokerRead = Annotated[Principal, Depends(Authenticator(scopes={"brokers:read"}))]
BrokerWrite = Annotated[Principal, Depends(Authenticator(scopes={"brokers:write"}, kinds={"user"}))]

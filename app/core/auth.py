"""Who is calling: the principal, the scope catalogue, and the authenticator dependency.

People send an access token (OAuth2 password flow); apps send an API key (`tx_…`); both as
`Authorization: Bearer …`. A route declares what it accepts once, in its package's `auth.py`:
`Authenticator(scopes={"organizations:write"}, kinds={"user"})`. Which organization's objects
a principal may touch is decided in the service lookups, never in the route.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Literal

from fastapi import Request
from fastapi.security import OAuth2PasswordBearer

from app.core import audit, security
from app.core.errors import (
    Forbidden,
    InsufficientScope,
    InvalidToken,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from app.core.reads import ReadPool

CallerKind = Literal["user", "api_key"]


class MemberRole(StrEnum):
    """A person's role in their organization."""

    owner = "owner"
    admin = "admin"
    member = "member"


class PlatformRole(StrEnum):
    """Roles of platform staff (平台工作人员)."""

    reviewer = "reviewer"  # reviews listings and organizations (审核)
    registrar = "registrar"  # registers technology contracts (认定登记)
    finance = "finance"  # confirms payments, pays out rewards
    admin = "admin"  # manages staff and organizations


MANAGERS = (MemberRole.owner, MemberRole.admin)
"""The roles that manage an organization's members, keys, listings."""

# Every scope the API knows. People's tokens get all of them unless they ask for fewer; API
# keys get only those chosen when the key is made, and never those marked people-only.
SCOPES: dict[str, str] = {
    "profile:read": "Read your own profile",
    "organizations:read": "Read organizations",
    "organizations:write": "Create and change organizations",
    "members:read": "Read an organization's members",
    "members:write": "Add, change and remove members",
    "api_keys:write": "Create and revoke API keys",
    "brokers:read": "Read broker profiles",
    "brokers:write": "Create and change broker profiles",
    "results:read": "Read results (科技成果)",
    "results:write": "Create and change results",
    "listings:read": "Read listings (挂牌)",
    "listings:write": "Create, submit and withdraw listings; register intent",
    "bids:write": "Place bids and deposits",
    "deals:read": "Read deals and contracts",
    "deals:write": "Sign and change contracts",
    "rewards:read": "Read broker claims and rewards",
    "rewards:write": "File broker claims",
    "tax:read": "Read tax filings",
    "tax:write": "Submit tax filings",
    "webhooks:write": "Manage webhook endpoints",
    "platform": "Platform staff operations (also needs a staff role)",
    "sandbox": "Move the sandbox clock (sandbox deployments only)",
}
PEOPLE_ONLY_SCOPES = frozenset({"api_keys:write", "members:write", "platform"})
ALL_SCOPES = frozenset(SCOPES)
API_KEY_SCOPES = ALL_SCOPES - PEOPLE_ONLY_SCOPES


def user_subject(user_id: uuid.UUID) -> str:
    """A person as keys, budgets and change notices name them."""
    return f"user:{user_id}"


def api_key_subject(api_key_id: uuid.UUID) -> str:
    """An API key as keys, budgets and change notices name it."""
    return f"api_key:{api_key_id}"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: CallerKind
    user_id: uuid.UUID | None
    scopes: frozenset[str]
    memberships: Mapping[uuid.UUID, MemberRole] = field(default_factory=dict)
    platform_roles: frozenset[PlatformRole] = frozenset()
    api_key_id: uuid.UUID | None = None
    second_factor: bool = False
    """A person whose sign-in proved a second factor (TOTP or a recovery code)."""
    credential_expires_at: datetime | None = None
    """When the credential it was read from stops being valid (none: an API key without
    expiry); a process keeping verified principals never keeps one past it."""

    @cached_property
    def subject(self) -> str:
        """Who the caller is, as keys, budgets and change notices name them: "user:<id>" or
        "api_key:<id>" (worked out once: a process keeps its principals for a few seconds)."""
        if self.api_key_id is not None:
            return api_key_subject(self.api_key_id)
        assert self.user_id is not None
        return user_subject(self.user_id)

    def role_in(self, organization_id: uuid.UUID) -> MemberRole | None:
        return self.memberships.get(organization_id)

    def is_member_of(self, organization_id: uuid.UUID) -> bool:
        return organization_id in self.memberships

    def has_platform_role(self, *roles: PlatformRole) -> bool:
        return bool(self.platform_roles & set(roles)) or PlatformRole.admin in self.platform_roles

    def acting_for(self, organization_id: uuid.UUID | None) -> uuid.UUID:
        """The organization the caller acts for: the one named, which they must belong to, or
        their only one. Raises ValidationFailed(body.organization_id) `not_your_organization`
        (acting on someone else's behalf) or `missing` (no single default)."""
        if organization_id is None:
            if len(self.memberships) != 1:
                raise ValidationFailed("body.organization_id", "missing")
            return next(iter(self.memberships))
        if not self.is_member_of(organization_id):
            raise ValidationFailed("body.organization_id", "not_your_organization")
        return organization_id

    def require_member(self, organization_id: uuid.UUID) -> None:
        """NotFound unless the caller belongs to the organization: to outsiders, its private
        objects do not exist."""
        if not self.is_member_of(organization_id):
            raise NotFound()

    def require_manager(self, organization_id: uuid.UUID) -> None:
        """NotFound for outsiders, Forbidden for members who are neither owner nor admin."""
        self.require_member(organization_id)
        self.require_role(organization_id, *MANAGERS)

    def require_role(self, organization_id: uuid.UUID, *roles: MemberRole) -> None:
        """Raise Forbidden unless the caller holds one of `roles` in the organization."""
        if self.role_in(organization_id) not in roles:
            raise Forbidden(detail_code="detail.role_required", roles=", ".join(roles))

    def require_platform_role(self, *roles: PlatformRole) -> None:
        if not self.has_platform_role(*roles):
            raise Forbidden(
                detail_code="detail.role_required",
                roles=", ".join(sorted({*roles, PlatformRole.admin})),
            )


Resolver = Callable[[ReadPool, str, datetime], Awaitable[Principal | None]]


class _BearerScheme(OAuth2PasswordBearer):
    """The one security scheme of the API (OAuth2 password flow, or an API key as the bearer
    credential), as the OpenAPI document names it. Each dependency that reads the caller *is*
    the scheme rather than depending on it: FastAPI solves every nested dependency anew on each
    request (a third of a light read's time went on three of them), and a scheme at the root of
    the dependency is documented the same way."""

    def __init__(self) -> None:
        super().__init__(
            tokenUrl="/v1/auth/token",
            scheme_name="OAuth2PasswordBearer",
            scopes=SCOPES,
            auto_error=False,
            description="An access token from /v1/auth/token, or an API key (`tx_…`).",
        )

    async def _principal(self, request: Request) -> Principal | None:
        """The caller behind the request's bearer credential; None without one. Raises
        InvalidToken for a credential that is not (or no longer) valid."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if not credential or scheme.lower() != "bearer":
            return None
        state = request.app.state
        resolve: Resolver = state.resolve_principal
        principal = await resolve(state.reads, credential, state.clock.wall())
        if principal is None:
            if credential.startswith(security.API_KEY_PREFIX):
                # A key that is no key is a guess: it spends the address's sign-in budget
                # (an expired access token is not one).
                await state.api_key_refused(address=address_of(request), now=state.clock.wall())
            raise InvalidToken()
        audit.act_as(principal)
        return principal


def address_of(request: Request) -> str:
    """The address a request came from (the peer uvicorn saw; behind `--proxy-headers`, the
    client a trusted proxy named)."""
    return request.client.host if request.client else "unknown"


class Authenticator(_BearerScheme):
    """A dependency that yields the principal, or raises 401/403.

    `kinds` are the kinds of caller the route accepts; `scopes` must all be on the credential.
    """

    def __init__(
        self,
        *,
        scopes: frozenset[str] | set[str] = frozenset(),
        kinds: frozenset[CallerKind] | set[CallerKind] = frozenset({"user", "api_key"}),
    ) -> None:
        super().__init__()
        unknown = set(scopes) - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes {unknown}")
        self.required_scopes = frozenset(scopes)
        self.kinds = frozenset(kinds)

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await self._principal(request)
        if principal is None:
            raise Unauthenticated(detail_code=None)
        return self._checked(principal)

    def _checked(self, principal: Principal) -> Principal:
        """The principal, if its kind and scopes are the route's; raises 403 otherwise."""
        if principal.kind not in self.kinds:
            raise Forbidden(detail_code="detail.caller_kind")
        missing = self.required_scopes - principal.scopes
        if missing:
            scope_list = " ".join(sorted(missing))
            raise InsufficientScope(
                scopes=scope_list,
                headers={
                    "WWW-Authenticate": (
                        f'Bearer realm="techexchange", error="insufficient_scope", '
                        f'scope="{scope_list}"'
                    )
                },
            )
        return principal


class AnonymousOr(Authenticator):
    """The caller as `Authenticator` checks it, or None for a request with no bearer
    credential: a route that shows anyone the public part of what it serves (a published
    listing is a public notice, 公示) and its callers the rest. A bad credential is still a
    401, so nobody mistakes it for anonymity."""

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        principal = await self._principal(request)
        return None if principal is None else self._checked(principal)


optional_principal = AnonymousOr()
"""The caller on a public route that shows more to some callers: None without a credential; a
bad credential is still a 401, so nobody mistakes it for anonymity."""

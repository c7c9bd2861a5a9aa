"""Reads of listings below the service: what a listing is shown with, and the one read a
caller makes most — a listing by id — on the read path (`app/core/reads.py`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Uuid,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.accounts import service as accounts
from app.accounts.models import Organization
from app.core.auth import Principal
from app.core.errors import NotFound
from app.core.reads import PreparedRead, ReadPool, Transient
from app.listings.models import Intent, Listing, ListingState
from app.listings.states import PUBLIC
from app.results.models import Result


@dataclass(frozen=True)
class ListingView:
    """A listing with what is shown beside it."""

    listing: Listing
    result: Result
    organization: Organization
    intent_count: int


def visible_to(
    staff: ColumnElement[bool], organizations: BindParameter[Any]
) -> ColumnElement[bool]:
    """The listings a caller sees: every one for platform staff (`staff`), public ones, and
    those of the caller's `organizations` (an array parameter)."""
    return or_(
        staff,
        *(Listing.state == state for state in sorted(PUBLIC)),
        # A withdrawn listing that was once public stays public (it was announced).
        (Listing.state == ListingState.withdrawn) & Listing.published_at.is_not(None),
        Listing.organization_id == any_(organizations),
    )


_RESULT_SHOWN = (
    Result.id,
    Result.title,
    Result.kind,
    Result.ip_number,
    Result.field_code,
    Result.trl,
    Result.division_code,
)
_organizations = accounts.organizations_select().subquery()
_intents = (
    select(func.count())
    .select_from(Intent)
    .where(Intent.listing_id == Listing.id)
    .scalar_subquery()
)
_LISTING = PreparedRead(
    select(
        *Listing.__table__.columns,
        *(column.label(f"result_{column.key}") for column in _RESULT_SHOWN),
        _organizations.c.name.label("organization_name"),
        _intents.label("intent_count"),
    )
    .join(Result, Result.id == Listing.result_id)
    .join(_organizations, _organizations.c.organization_id == Listing.organization_id)
    .where(
        Listing.id == bindparam("listing_id"),
        visible_to(
            bindparam("staff", type_=Boolean()),
            bindparam("organizations", type_=ARRAY(Uuid())),
        ),
    )
)
_listing = Transient(Listing)
_result = Transient(Result, prefix="result_", columns=_RESULT_SHOWN)
_organization = Transient(
    Organization, prefix="organization_", columns=(Organization.id, Organization.name)
)


async def listing_for(reads: ReadPool, principal: Principal, listing_id: uuid.UUID) -> ListingView:
    """A listing the caller may see — public ones, their organization's, or any for staff —
    in one statement. Raises NotFound (for a listing the caller may not see, too)."""
    row = await reads.one(
        _LISTING,
        listing_id=listing_id,
        staff=bool(principal.platform_roles),
        organizations=list(principal.memberships),
    )
    if row is None:
        raise NotFound()
    return ListingView(_listing(row), _result(row), _organization(row), row["intent_count"])

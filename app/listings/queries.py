"""Reads of listings below the service, anyone's to use: which listings a caller sees, what a
listing is shown with, the one read a caller makes most — a listing by id — on the read path
(`app/core/reads.py`), and what the packages above and below ask of a listing (the parties of a
negotiation, the result it offers, whether a result is on the market)."""

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
    exists,
    func,
    join,
    literal,
    or_,
    outerjoin,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import Organization
from app.core.auth import Principal
from app.core.db import ReadModel, one_or_not_found
from app.core.errors import (
    InvalidState,
    NotFound,
)
from app.core.reads import PreparedRead, ReadPool, Transient
from app.listings.models import (
    Intent,
    Listing,
    ListingMode,
    ListingOutcome,
    ListingState,
)
from app.listings.states import ON_MARKET, PUBLIC
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


def visible_for(principal: Principal) -> ColumnElement[bool]:
    """The listings `principal` sees (`visible_to` for a caller)."""
    return visible_to(
        literal(bool(principal.platform_roles)),
        bindparam(None, list(principal.memberships), type_=ARRAY(Uuid()), unique=True),
    )


async def listing_visible_to(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, *, lock: bool = False
) -> Listing:
    """A listing the caller may see, locked with `lock`. Raises NotFound."""
    query = select(Listing).where(Listing.id == listing_id, visible_for(principal))
    return await one_or_not_found(session, query, lock=lock)


async def result_is_on_market(session: AsyncSession, result_id: uuid.UUID) -> bool:
    """Whether a result has a listing under review or published."""
    return bool(
        await session.scalar(
            select(exists().where(Listing.result_id == result_id, Listing.state.in_(ON_MARKET)))
        )
    )


@dataclass(frozen=True)
class Negotiation:
    """A negotiable listing (面议) whose window closed with intents: who sells, who may buy."""

    seller_organization_id: uuid.UUID
    intent_holders: frozenset[uuid.UUID]


async def negotiation_of(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> Negotiation:
    """The parties of a negotiation on a listing. Raises NotFound; InvalidState unless the
    listing is negotiable and its window closed with intents."""
    listing = await listing_visible_to(session, principal, listing_id, lock=True)
    if not (
        listing.mode == ListingMode.negotiable
        and listing.state == ListingState.closed
        and listing.outcome == ListingOutcome.to_contract
    ):
        raise InvalidState(detail_code="detail.listing_not_negotiated")
    holders = await session.scalars(
        select(Intent.organization_id).where(Intent.listing_id == listing.id)
    )
    return Negotiation(listing.organization_id, frozenset(holders.all()))


async def result_id_of(session: AsyncSession, listing_id: uuid.UUID) -> uuid.UUID:
    """The result a listing offers."""
    result_id = await session.scalar(select(Listing.result_id).where(Listing.id == listing_id))
    if result_id is None:
        raise NotFound()
    return result_id


def offered_results_select() -> ReadModel:
    """The read model of what each listing offered (`listing_id`, `result_kind`,
    `licence_years`), for another package to join by `listing_id`."""
    # Every listing has its result (a foreign key, not null), so the outer join keeps the same
    # rows; unlike an inner join nested in the caller's outer join, it lets PostgreSQL join the
    # listings the caller keeps first and look their results up, not join every listing.
    return select(
        Listing.id.label("listing_id"), Result.kind.label("result_kind"), Listing.licence_years
    ).select_from(outerjoin(Listing, Result, Result.id == Listing.result_id))


def publications_select() -> ReadModel:
    """The read model of published listings for statistics: `listing_id`, `published_at`,
    `mode`, `field_code` of the result offered."""
    return (
        select(
            Listing.id.label("listing_id"), Listing.published_at, Listing.mode, Result.field_code
        )
        .select_from(join(Listing, Result, Result.id == Listing.result_id))
        .where(Listing.published_at.is_not(None))
    )


def intents_select() -> ReadModel:
    """The read model of intents for statistics: `intent_id`, `listing_id`, `created_at`."""
    return select(Intent.id.label("intent_id"), Intent.listing_id, Intent.created_at)

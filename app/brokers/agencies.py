"""A transfer agency's year: its service performance (服务绩效), computed from the registered
contracts that the agency's brokers brought about (the brokers the parties named, 技术经纪人),
and the yearly evaluation (年度绩效评价) reviewers record on the score sheet from it. The
agency's members and platform staff see both.

- contracts: registered in the year (Beijing time) with at least one of its brokers named;
- amount: their 技术交易额 as registered (核定);
- clients: the organizations on either side of them;
- share of the region's contracts: those contracts ÷ every contract registered in the year by
  a seller in the agency's province (the first two digits of the division codes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import Organization, OrganizationKind
from app.accounts.service import get_organization_for
from app.brokers.models import AgencyEvaluation
from app.brokers.score_sheet import score_sheet
from app.core.auth import PlatformRole, Principal
from app.core.clock import month_start
from app.core.errors import NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import queries as deals


@dataclass(frozen=True)
class AgencyIndicators:
    agency_id: uuid.UUID
    year: int
    contracts: int
    amount: Money
    clients: int
    region_contracts: int
    region_share: Decimal | None
    """Four decimals; None when the region registered nothing."""


async def agency_for(
    session: AsyncSession, principal: Principal, agency_id: uuid.UUID, *, lock: bool = False
) -> Organization:
    """A transfer agency whose year the caller may see: its members and platform staff.
    Raises NotFound; ValidationFailed(path.organization_id) `not_a_transfer_agency`."""
    agency = await get_organization_for(session, principal, agency_id, lock=lock)
    if not principal.platform_roles and not principal.is_member_of(agency.id):
        raise NotFound()
    if agency.kind != OrganizationKind.transfer_agency:
        raise ValidationFailed("path.organization_id", "not_a_transfer_agency")
    return agency


async def agency_indicators(
    session: AsyncSession, principal: Principal, agency_id: uuid.UUID, year: int, *, now: datetime
) -> AgencyIndicators:
    """The agency's indicators for `year` (a year under way: up to now). Its members and
    platform staff. Raises NotFound; ValidationFailed(organization_id) `not_a_transfer_agency`,
    ValidationFailed(year) `year_not_started`."""
    return await indicators_of(
        session, await agency_for(session, principal, agency_id), year, now=now
    )


async def indicators_of(
    session: AsyncSession, agency: Organization, year: int, *, now: datetime
) -> AgencyIndicators:
    """The indicators of an agency already looked up; ValidationFailed(year)
    `year_not_started`."""
    start, end = month_start(year, 1), month_start(year + 1, 1)
    if start >= now:
        raise ValidationFailed("query.year", "year_not_started")
    registered = deals.registrations_select().subquery("registered")
    in_year = (registered.c.registered_at >= start) & (registered.c.registered_at < end)
    named = deals.deal_brokers_select().subquery("named")
    brokers = accounts.broker_agencies_select().subquery("brokers")
    served = (
        select(registered.c.deal_id)
        .join(named, named.c.deal_id == registered.c.deal_id)
        .join(brokers, brokers.c.broker_id == named.c.broker_id)
        .where(in_year, brokers.c.agency_id == agency.id)
        .distinct()
        .subquery("served")
    )
    mine = (
        select(registered)
        .where(registered.c.deal_id.in_(select(served.c.deal_id)))
        .subquery("mine")
    )
    contracts, amount = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(mine.c.transaction_fen), 0))
        )
    ).one()
    clients = await session.scalar(
        select(func.count()).select_from(
            union(
                select(mine.c.seller_organization_id.label("organization_id")),
                select(mine.c.buyer_organization_id.label("organization_id")),
            ).subquery()
        )
    )
    organizations = accounts.organizations_select().subquery("organizations")
    region_contracts = await session.scalar(
        select(func.count())
        .select_from(registered)
        .join(
            organizations,
            organizations.c.organization_id == registered.c.seller_organization_id,
        )
        .where(in_year, func.left(organizations.c.division_code, 2) == agency.division_code[:2])
    )
    share = (
        (Decimal(contracts) / Decimal(region_contracts)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
        if region_contracts
        else None
    )
    return AgencyIndicators(
        agency.id,
        year,
        int(contracts),
        Money(int(amount)),
        int(clients or 0),
        int(region_contracts or 0),
        share,
    )


async def evaluate_agency(
    session: AsyncSession,
    principal: Principal,
    agency_id: uuid.UUID,
    year: int,
    *,
    scores: Mapping[str, Decimal],
    note: str | None,
    now: datetime,
) -> AgencyEvaluation:
    """Platform reviewers record an agency's evaluation of a finished year on the score sheet
    in force, with the indicators they had before them; evaluating again replaces the scores
    (the `agency.evaluated` event keeps the earlier ones, and the agency's post-subsidy
    follows). Raises Forbidden, NotFound, ValidationFailed: `not_a_transfer_agency`,
    `year_not_over` (path.year), and the score sheet's field errors."""
    principal.require_platform_role(PlatformRole.reviewer)
    # The agency's row orders two reviewers recording the same year at once.
    agency = await agency_for(session, principal, agency_id, lock=True)
    if now < month_start(year + 1, 1):
        raise ValidationFailed("path.year", "year_not_over")
    sheet = score_sheet()
    total = sheet.total(scores).quantize(Decimal("0.01"))
    indicators = await indicators_of(session, agency, year, now=now)
    evaluation = await evaluation_of_year(session, agency.id, year)
    before = None
    if evaluation is None:
        evaluation = AgencyEvaluation(organization_id=agency.id, year=year)
        session.add(evaluation)
    else:
        before = {"scores": evaluation.scores, "total": str(evaluation.total)}
    evaluation.sheet_version = sheet.version
    evaluation.scores = {code: str(score) for code, score in scores.items()}
    evaluation.total = total
    evaluation.passed = sheet.passes(total)
    evaluation.indicators = {
        "contracts": indicators.contracts,
        "amount_fen": indicators.amount.fen,
        "clients": indicators.clients,
        "region_contracts": indicators.region_contracts,
        "region_share": None if indicators.region_share is None else str(indicators.region_share),
    }
    evaluation.note = note
    evaluation.evaluated_by_id = principal.user_id
    evaluation.evaluated_at = now
    await session.flush()
    await record_event(
        session,
        "agency.evaluated",
        {
            "organization_id": str(agency.id),
            "year": year,
            "total": str(total),
            "passed": evaluation.passed,
        },
        before=before,
    )
    return evaluation


async def evaluation_of(
    session: AsyncSession, principal: Principal, agency_id: uuid.UUID, year: int
) -> AgencyEvaluation:
    """An agency's evaluation of a year, to its members and platform staff. Raises NotFound
    (also before the reviewers recorded one), ValidationFailed `not_a_transfer_agency`."""
    agency = await agency_for(session, principal, agency_id)
    evaluation = await evaluation_of_year(session, agency.id, year)
    if evaluation is None:
        raise NotFound()
    return evaluation


async def evaluation_of_year(
    session: AsyncSession, agency_id: uuid.UUID, year: int
) -> AgencyEvaluation | None:
    """The agency's evaluation of a year, if the reviewers recorded one (no access check)."""
    return await session.scalar(
        select(AgencyEvaluation).where(
            AgencyEvaluation.organization_id == agency_id, AgencyEvaluation.year == year
        )
    )

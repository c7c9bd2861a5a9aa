"""A transfer agency's service performance of a year (服务绩效): the indicators its yearly
evaluation starts from, computed from the registered contracts that the agency's brokers
brought about (the brokers the parties named, 技术经纪人).

- contracts: registered in the year (Beijing time) with at least one of its brokers named;
- amount: their 技术交易额 as registered (核定);
- clients: the organizations on either side of them;
- share of the region's contracts: those contracts ÷ every contract registered in the year by
  a seller in the agency's province (the first two digits of the division codes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import OrganizationKind
from app.accounts.service import get_organization_for
from app.core.auth import Principal
from app.core.clock import month_start
from app.core.errors import NotFound, ValidationFailed
from app.core.money import Money
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


async def agency_indicators(
    session: AsyncSession, principal: Principal, agency_id: uuid.UUID, year: int, *, now: datetime
) -> AgencyIndicators:
    """The agency's indicators for `year` (a year under way: up to now). Its members and
    platform staff. Raises NotFound; ValidationFailed(organization_id) `not_a_transfer_agency`,
    ValidationFailed(year) `year_not_started`."""
    agency = await get_organization_for(session, principal, agency_id)
    if not principal.platform_roles and not principal.is_member_of(agency.id):
        raise NotFound()
    if agency.kind != OrganizationKind.transfer_agency:
        raise ValidationFailed("path.organization_id", "not_a_transfer_agency")
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

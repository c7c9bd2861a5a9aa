"""Statistical indicators (统计指标) of the market, computed in SQL from the read models the
other packages offer (never their tables).

Registered contracts count in the month of their registration (认定登记), with the
technology-transaction amount (技术交易额) of the version in force; a contract's field is its
result's top-level field, its region the seller's province. Everyone sees the aggregates, but a
cell of fewer than `PUBLIC_MINIMUM` contracts is withheld from the public (one contract's amount
would be its price); platform staff see every cell and the leading sellers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.auctions import queries as auctions
from app.brokers import queries as brokers
from app.challenges import queries as challenges
from app.core.auth import Principal
from app.core.clock import beijing_date, beijing_month_text
from app.core.db import ReadModel
from app.deals import queries as deals
from app.listings import queries as listings
from app.payments import queries as payments

PUBLIC_MINIMUM = 3
LEADING_SELLERS = 20


@dataclass(frozen=True)
class Filters:
    """[start, end) in Beijing time, and optional narrowing to a field, a region (a division
    code prefix: "15" for Inner Mongolia, "1502" for Baotou) and a contract type."""

    start: datetime
    end: datetime
    field: str | None = None
    region: str | None = None
    contract_type: str | None = None


@dataclass(frozen=True)
class Cell:
    key: str
    count: int
    amount_fen: int | None
    """None when withheld from the public."""


@dataclass
class Indicators:
    contracts: int
    amount_fen: int | None
    by_field: list[Cell]
    by_region: list[Cell]
    by_contract_type: list[Cell]
    by_month: list[Cell]
    listings_published: int
    intents: int
    auctions_ended: int
    auctions_sold: int
    median_days_to_contract: float | None
    broker_rewards_paid_fen: int
    money_received_fen: int | None
    """Money the registered contracts received in the period (None: withheld)."""
    withheld_below: int | None
    challenge_funnel: list[FunnelCell] = field(default_factory=list)
    leading_sellers: list[Cell] = field(default_factory=list)


FUNNEL_STAGES = ("collected", "published", "proposal", "awarded")


@dataclass
class FunnelCell:
    """The challenge funnel (揭榜挂帅) of one top-level field in one Beijing month: needs
    collected as challenges, challenges published, proposals standing, awards that stood, and
    the development contracts those awards led to that were signed, with their 技术交易额."""

    field: str
    month: str
    stages: dict[str, int]
    contracts: int = 0
    amount_fen: int | None = 0
    """None when withheld from the public."""


def _registered(filters: Filters) -> ReadModel:
    """Registered contracts (whenever registered) with their seller, province and field,
    narrowed by the filters' field, region and contract type."""
    registrations = deals.registrations_select().subquery("registrations")
    organizations = accounts.organizations_select().subquery("organizations")
    publications = listings.publications_select().subquery("publications")
    top_field = func.split_part(publications.c.field_code, ".", 1)
    province = func.substr(organizations.c.division_code, 1, 2) + literal("0000")
    contracts = (
        select(
            registrations.c.deal_id,
            registrations.c.transaction_fen,
            registrations.c.contract_type,
            registrations.c.registered_at,
            registrations.c.signed_at,
            organizations.c.organization_id,
            organizations.c.name,
            province.label("province"),
            func.coalesce(top_field, literal("unclassified")).label("field"),
            publications.c.published_at,
        )
        .select_from(registrations)
        .join(
            organizations,
            organizations.c.organization_id == registrations.c.seller_organization_id,
        )
        .outerjoin(publications, publications.c.listing_id == registrations.c.listing_id)
    )
    if filters.field:
        contracts = contracts.where(
            func.coalesce(publications.c.field_code, "").startswith(filters.field)
        )
    if filters.region:
        contracts = contracts.where(organizations.c.division_code.startswith(filters.region))
    if filters.contract_type:
        contracts = contracts.where(
            cast(registrations.c.contract_type, String) == filters.contract_type
        )
    return contracts


async def _money_received(session: AsyncSession, filters: Filters, detailed: bool) -> int | None:
    """What the registered contracts received in the period (`payments.receipts_select`:
    payments and applied deposits, less refunds), withheld like any cell."""
    contracts = _registered(filters).subquery("contracts")
    receipts = payments.receipts_select(filters.start, filters.end).subquery("receipts")
    row = (
        await session.execute(
            select(
                func.count(func.distinct(receipts.c.deal_id)).label("contracts"),
                func.coalesce(func.sum(receipts.c.amount_fen), 0).label("amount"),
            ).join_from(receipts, contracts, contracts.c.deal_id == receipts.c.deal_id)
        )
    ).one()
    return _cell("", row.contracts, int(row.amount), detailed).amount_fen


async def indicators(
    session: AsyncSession, principal: Principal | None, filters: Filters
) -> Indicators:
    """The indicators for the filters; detailed (every cell, leading sellers) for platform
    staff, aggregated with small cells withheld for everyone else."""
    detailed = principal is not None and bool(principal.platform_roles)
    contracts = _registered(filters)
    registered_at = contracts.selected_columns.registered_at
    selected = contracts.where(
        registered_at >= filters.start, registered_at < filters.end
    ).subquery("selected")

    async def grouped(key: ColumnElement[Any]) -> list[Cell]:
        rows = await session.execute(
            select(
                key.label("key"),
                func.count().label("contracts"),
                func.coalesce(func.sum(selected.c.transaction_fen), 0).label("amount"),
            )
            .group_by(key)
            .order_by(key)
        )
        return [_cell(str(row.key), row.contracts, int(row.amount), detailed) for row in rows]

    totals = (
        await session.execute(
            select(
                func.count().label("contracts"),
                func.coalesce(func.sum(selected.c.transaction_fen), 0).label("amount"),
            )
        )
    ).one()
    waits = [
        (row.signed_at - row.published_at).total_seconds() / 86400
        for row in await session.execute(
            select(selected.c.signed_at, selected.c.published_at).where(
                selected.c.published_at.is_not(None), selected.c.signed_at.is_not(None)
            )
        )
    ]
    publications = listings.publications_select().subquery("publications")
    result = Indicators(
        contracts=totals.contracts,
        amount_fen=_cell("", totals.contracts, int(totals.amount), detailed).amount_fen,
        by_field=await grouped(selected.c.field),
        by_region=await grouped(selected.c.province),
        by_contract_type=await grouped(cast(selected.c.contract_type, String)),
        by_month=await grouped(beijing_month_text(selected.c.registered_at)),
        listings_published=await _count_between(
            session, publications, publications.c.published_at, filters
        ),
        intents=await _count_between(
            session,
            listings.intents_select().subquery("intents"),
            None,
            filters,
        ),
        auctions_ended=0,
        auctions_sold=0,
        median_days_to_contract=round(statistics.median(waits), 1) if waits else None,
        broker_rewards_paid_fen=await _rewards_paid(session, filters),
        money_received_fen=await _money_received(session, filters, detailed),
        withheld_below=None if detailed else PUBLIC_MINIMUM,
    )
    result.auctions_ended, result.auctions_sold = await _auction_outcomes(session, filters)
    result.challenge_funnel = await _challenge_funnel(session, filters, detailed)
    if detailed:
        rows = await session.execute(
            select(
                selected.c.name,
                func.count().label("contracts"),
                func.sum(selected.c.transaction_fen).label("amount"),
            )
            .group_by(selected.c.organization_id, selected.c.name)
            .order_by(func.sum(selected.c.transaction_fen).desc(), selected.c.name)
            .limit(LEADING_SELLERS)
        )
        result.leading_sellers = [Cell(row.name, row.contracts, int(row.amount)) for row in rows]
    return result


def _cell(key: str, count: int, amount_fen: int, detailed: bool) -> Cell:
    if not detailed and count < PUBLIC_MINIMUM:
        return Cell(key, count, None)
    return Cell(key, count, amount_fen)


async def _count_between(session: AsyncSession, source: Any, column: Any, filters: Filters) -> int:
    column = column if column is not None else source.c.created_at
    return int(
        await session.scalar(
            select(func.count())
            .select_from(source)
            .where(column >= filters.start, column < filters.end)
        )
        or 0
    )


async def _auction_outcomes(session: AsyncSession, filters: Filters) -> tuple[int, int]:
    outcomes = auctions.outcomes_select().subquery("outcomes")
    ended = outcomes.c.state.in_(["closed", "settled", "failed"])
    row = (
        await session.execute(
            select(
                func.count().filter(ended).label("ended"),
                func.count().filter(outcomes.c.state == "settled").label("sold"),
            ).where(outcomes.c.ends_at >= filters.start, outcomes.c.ends_at < filters.end)
        )
    ).one()
    return int(row.ended), int(row.sold)


async def _rewards_paid(session: AsyncSession, filters: Filters) -> int:
    payouts = brokers.reward_payouts_select().subquery("payouts")
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(payouts.c.amount_fen), 0)).where(
                payouts.c.paid_at >= filters.start, payouts.c.paid_at < filters.end
            )
        )
        or 0
    )


async def _challenge_funnel(
    session: AsyncSession, filters: Filters, detailed: bool
) -> list[FunnelCell]:
    """The challenge funnel per top-level field and month of the period: each step in the month
    it happened, a contract in the month both parties had signed it; narrowed by the filters'
    field and region (the challenge owner's)."""
    steps = challenges.funnel_steps()
    organizations = accounts.organizations_select().subquery("owners")
    top_field = func.split_part(steps.c.field_code, ".", 1)
    narrowed = [
        steps.c.field_code.startswith(filters.field) if filters.field else None,
        organizations.c.division_code.startswith(filters.region) if filters.region else None,
    ]
    conditions = [condition for condition in narrowed if condition is not None]
    base = select().join_from(
        steps, organizations, organizations.c.organization_id == steps.c.organization_id
    )
    month = beijing_month_text(steps.c.at)
    cells: dict[tuple[str, str], FunnelCell] = {}

    def cell(key_field: str, key_month: str) -> FunnelCell:
        key = (key_field, key_month)
        if key not in cells:
            cells[key] = FunnelCell(key_field, key_month, dict.fromkeys(FUNNEL_STAGES, 0))
        return cells[key]

    rows = await session.execute(
        base.add_columns(top_field, month, steps.c.stage, func.count())
        .where(steps.c.at >= filters.start, steps.c.at < filters.end, *conditions)
        .group_by(top_field, month, steps.c.stage)
    )
    for key_field, key_month, stage, count in rows:
        cell(key_field, key_month).stages[stage] = count
    contracts = deals.contract_facts_select().subquery("contracts")
    signed_month = func.to_char(contracts.c.signed_on, "YYYY-MM")
    rows = await session.execute(
        base.join(contracts, contracts.c.deal_id == steps.c.deal_id)
        .add_columns(
            top_field,
            signed_month,
            func.count(),
            func.coalesce(func.sum(contracts.c.transaction_fen), 0),
        )
        .where(
            steps.c.stage == "awarded",
            contracts.c.signed_on >= beijing_date(filters.start),
            contracts.c.signed_on < beijing_date(filters.end),
            *conditions,
        )
        .group_by(top_field, signed_month)
    )
    for key_field, key_month, count, amount in rows:
        signed = cell(key_field, key_month)
        signed.contracts = count
        signed.amount_fen = _cell("", count, int(amount), detailed).amount_fen
    return [cells[key] for key in sorted(cells)]

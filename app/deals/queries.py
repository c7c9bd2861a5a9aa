"""Reads of the deals package, below its service and anyone's to use: the deals a caller sees,
a deal's contract with its versions and what is still due, and what a payment needs of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, join, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.core.auth import Principal
from app.core.clock import beijing_day
from app.core.db import ReadModel, among, one_or_not_found
from app.core.errors import (
    Forbidden,
    InvalidState,
    NotFound,
)
from app.deals import queries
from app.deals.milestones import Milestone, TechnologyShare, outstanding
from app.deals.models import (
    Contract,
    ContractState,
    ContractType,
    ContractVersion,
    Deal,
    DealBroker,
    InventorReward,
    TransformationIncome,
)
from app.payments import queries as payments


def visible_for(principal: Principal) -> ColumnElement[bool]:
    if principal.platform_roles:
        return Deal.id.is_not(None)
    parties = list(principal.memberships)
    return or_(Deal.seller_organization_id.in_(parties), Deal.buyer_organization_id.in_(parties))


async def get_deal_for(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID, *, lock: bool = False
) -> Deal:
    """A deal of the caller's organization (either side), or any for platform staff."""
    query = select(Deal).where(Deal.id == deal_id, visible_for(principal))
    return await one_or_not_found(session, query, lock=lock)


@dataclass(frozen=True)
class ContractView:
    contract: Contract
    versions: list[ContractVersion]
    outstanding: dict[int, int]
    """For the effective version: milestone number → fen still due."""


async def contract_of(session: AsyncSession, deal_id: uuid.UUID, *, lock: bool = False) -> Contract:
    query = select(Contract).where(Contract.deal_id == deal_id)
    if lock:
        query = query.with_for_update()
    contract = await session.scalar(query)
    assert contract is not None  # every deal is opened with its contract
    return contract


async def versions_of(session: AsyncSession, contract_id: uuid.UUID) -> list[ContractVersion]:
    rows = await session.scalars(
        select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.number)
    )
    return list(rows.all())


async def contract_view(session: AsyncSession, deal: Deal) -> ContractView:
    contract = await contract_of(session, deal.id)
    versions = await versions_of(session, contract.id)
    effective = effective_version(contract, versions)
    due: dict[int, int] = {}
    if effective is not None:
        due = outstanding(
            milestones_of(effective),
            await payments.received_by_milestone(session, deal.id),
            credit_fen=await payments.applied_deposit_fen(session, deal.id),
        )
    return ContractView(contract, versions, due)


def effective_version(
    contract: Contract, versions: Sequence[ContractVersion]
) -> ContractVersion | None:
    return next((v for v in versions if v.number == contract.effective_version), None)


@dataclass(frozen=True)
class Payable:
    """What the payments package needs to take a milestone payment."""

    deal: Deal
    contract_state: ContractState
    outstanding: dict[int, int]


async def payable(session: AsyncSession, principal: Principal, deal_id: uuid.UUID) -> Payable:
    """The deal's milestones still due, for a payment by the buyer's owner or admin.

    Raises NotFound, Forbidden, InvalidState before the contract is signed or after it ended.
    """
    deal = await get_deal_for(session, principal, deal_id, lock=True)
    if not principal.is_member_of(deal.buyer_organization_id):
        raise Forbidden(detail_code="detail.buyer_pays")
    principal.require_manager(deal.buyer_organization_id)
    view = await contract_view(session, deal)
    if view.contract.state not in {
        ContractState.signed,
        ContractState.registered,
        ContractState.performing,
    }:
        raise InvalidState(
            detail_code="detail.contract_not_payable", state=view.contract.state.value
        )
    return Payable(deal, view.contract.state, view.outstanding)


def milestones_of(version: ContractVersion) -> list[Milestone]:
    """A contract version's payment milestones."""
    return [Milestone(int(m["number"]), int(m["amount_fen"])) for m in version.milestones]


IN_FORCE = and_(
    ContractVersion.contract_id == Contract.id,
    ContractVersion.number == Contract.effective_version,
)
"""Joins a contract to its version in force (the last one both parties signed)."""

COUNTED_TRANSACTION_FEN = func.coalesce(
    Contract.registered_transaction_fen, ContractVersion.transaction_fen
)
"""The 技术交易额 that counts: as the registrar's last decision set it (核定 at registration or
at a change registration), else as the version in force declares it (a contract not
registered, which counts for nothing that needs registration)."""


def counted_transaction_fen(contract: Contract, version: ContractVersion) -> int:
    """`COUNTED_TRANSACTION_FEN` of a loaded contract and its version in force."""
    if contract.registered_transaction_fen is not None:
        return contract.registered_transaction_fen
    return version.transaction_fen


@dataclass(frozen=True)
class RegisteredContract:
    """What reward rules need to know of a registered contract."""

    deal_id: uuid.UUID
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    seller_division_code: str
    buyer_division_code: str
    contract_type: ContractType
    transaction_fen: int
    registered_at: datetime
    received_fen: int
    """Money received so far (`payments.receipts_select`: payments and an applied deposit,
    less refunds), at most the total."""


async def registered_contract(
    session: AsyncSession, deal_id: uuid.UUID, *, lock: bool = False
) -> RegisteredContract | None:
    """The deal's contract if it is registered (registered, performing or completed), else
    None. No visibility rule: the rewards package decides who may see what. `lock` takes the
    deal row, which serializes decisions about the same contract."""
    query = select(Deal).where(Deal.id == deal_id)
    if lock:
        query = query.with_for_update()
    deal = await session.scalar(query)
    if deal is None:
        return None
    contract = await queries.contract_of(session, deal.id)
    if contract.state not in {
        ContractState.registered,
        ContractState.performing,
        ContractState.completed,
    }:
        return None
    versions = await queries.versions_of(session, contract.id)
    effective = queries.effective_version(contract, versions)
    assert effective is not None
    assert contract.registered_at is not None
    received = await payments.received_total(session, deal.id)
    organizations = await accounts.organizations_by_id(
        session, [deal.seller_organization_id, deal.buyer_organization_id]
    )
    return RegisteredContract(
        deal_id=deal.id,
        seller_organization_id=deal.seller_organization_id,
        buyer_organization_id=deal.buyer_organization_id,
        seller_division_code=organizations[deal.seller_organization_id].division_code,
        buyer_division_code=organizations[deal.buyer_organization_id].division_code,
        contract_type=effective.contract_type,
        transaction_fen=counted_transaction_fen(contract, effective),
        registered_at=contract.registered_at,
        received_fen=min(received, effective.total_fen),
    )


async def parties_of(session: AsyncSession, deal_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """(seller, buyer) organizations of a deal. Raises NotFound."""
    deal = await session.get(Deal, deal_id)
    if deal is None:
        raise NotFound()
    return deal.seller_organization_id, deal.buyer_organization_id


async def deal_ids_of(session: AsyncSession, organizations: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The deals these organizations are a party to."""
    if not organizations:
        return []
    rows = await session.scalars(
        select(Deal.id).where(
            or_(
                Deal.seller_organization_id.in_(list(organizations)),
                Deal.buyer_organization_id.in_(list(organizations)),
            )
        )
    )
    return list(rows.all())


async def parties_of_deals(
    session: AsyncSession,
    deal_ids: Select[uuid.UUID],
    *,
    side: Literal["seller", "buyer"],
    contract_type: ContractType | None = None,
) -> list[uuid.UUID]:
    """The distinct sellers (or buyers) of the deals a subquery names, optionally only where the
    contract in force is of one type; in a stable order."""
    party = Deal.seller_organization_id if side == "seller" else Deal.buyer_organization_id
    query = select(party).where(Deal.id.in_(deal_ids.scalar_subquery())).distinct()
    if contract_type is not None:
        query = (
            query.join(Contract, Contract.deal_id == Deal.id)
            .join(
                ContractVersion,
                IN_FORCE,
            )
            .where(ContractVersion.contract_type == contract_type)
        )
    return sorted((await session.scalars(query)).all(), key=str)


class ContractFacts(NamedTuple):
    """What tax rules need of a deal's contract (the version in force)."""

    deal_id: uuid.UUID
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    listing_id: uuid.UUID | None
    state: ContractState
    registered: bool
    registration_number: str | None
    contract_type: ContractType | None
    exclusivity: str | None
    signed_on: date | None
    total_fen: int | None
    transaction_fen: int | None
    share: TechnologyShare | None
    """How its money divides between the technology and the rest (None: no version yet)."""


def contract_facts_select() -> ReadModel:
    """The read model of a deal's contract in force, one row per deal, for another package to
    join by `deal_id` and filter (by `seller_organization_id`, `buyer_organization_id`) in SQL:
    the tax filings read a year of contracts this way without loading the deals one by one.
    Rows turn into `ContractFacts` with `contract_facts_of`."""
    return select(
        Deal.id.label("deal_id"),
        Deal.seller_organization_id,
        Deal.buyer_organization_id,
        Deal.listing_id,
        Contract.state,
        Contract.registration_number,
        ContractVersion.contract_type,
        ContractVersion.exclusivity,
        # Signed when the later party signed, on that Beijing day.
        case(
            (
                and_(
                    ContractVersion.seller_signed_at.is_not(None),
                    ContractVersion.buyer_signed_at.is_not(None),
                ),
                beijing_day(
                    func.greatest(ContractVersion.seller_signed_at, ContractVersion.buyer_signed_at)
                ),
            )
        ).label("signed_on"),
        ContractVersion.total_fen,
        COUNTED_TRANSACTION_FEN.label("transaction_fen"),
        ContractVersion.milestones,
    ).select_from(
        join(Deal, Contract, Contract.deal_id == Deal.id).outerjoin(
            ContractVersion,
            IN_FORCE,
        )
    )


def contract_facts_of(values: Sequence[Any]) -> ContractFacts:
    """The facts in the columns of `contract_facts_select`, in their order (positional: a
    year of filings reads a million rows, and named access costs more than the rest)."""
    (
        deal_id,
        seller,
        buyer,
        listing_id,
        state,
        registration_number,
        contract_type,
        exclusivity,
        signed_on,
        total_fen,
        transaction_fen,
        milestones,
    ) = values
    return ContractFacts(
        deal_id,
        seller,
        buyer,
        listing_id,
        state,
        registration_number is not None,
        registration_number,
        contract_type,
        exclusivity.value if exclusivity else None,
        signed_on,
        total_fen,
        transaction_fen,
        TechnologyShare.of(total_fen, transaction_fen, milestones)
        if total_fen is not None and transaction_fen is not None
        else None,
    )


def registrations_select() -> ReadModel:
    """The read model of registered contracts for statistics: `deal_id`, `seller_organization_id`,
    `buyer_organization_id`, `listing_id`, `contract_type`, `transaction_fen` (the 技术交易额
    that counts) of the version in force, `registered_at`, `signed_at`."""
    return (
        select(
            Deal.id.label("deal_id"),
            Deal.seller_organization_id,
            Deal.buyer_organization_id,
            Deal.listing_id,
            ContractVersion.contract_type,
            COUNTED_TRANSACTION_FEN.label("transaction_fen"),
            Contract.registered_at,
            func.greatest(ContractVersion.seller_signed_at, ContractVersion.buyer_signed_at).label(
                "signed_at"
            ),
        )
        .select_from(
            join(Deal, Contract, Contract.deal_id == Deal.id).join(
                ContractVersion,
                IN_FORCE,
            )
        )
        .where(Contract.registration_number.is_not(None))
    )


def deal_brokers_select() -> ReadModel:
    """The read model of the brokers the parties named on each deal: `deal_id`, `broker_id`."""
    return select(DealBroker.deal_id, DealBroker.broker_id)


async def contract_facts(
    session: AsyncSession, deal_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ContractFacts]:
    """Facts of the deals' contracts, in one query however many deals."""
    rows = await session.execute(contract_facts_select().where(among(Deal.id, deal_ids)))
    return {row[0]: contract_facts_of(row) for row in rows}


def declared_costs_select() -> ReadModel:
    """The read model of the costs and related taxes sellers declared against payments
    (科技成果转化净收入), one row per payment, for another package to join by `payment_id`."""
    return select(
        TransformationIncome.payment_id,
        TransformationIncome.costs_fen,
        TransformationIncome.related_taxes_fen,
    )


@dataclass(frozen=True)
class RewardFact:
    """One inventor's reward, with what the researchers' tax relief asks of it."""

    organization_id: uuid.UUID
    """The paying organization: the deal's seller."""
    deal_id: uuid.UUID
    payment_id: uuid.UUID
    registration_number: str | None
    inventor_name: str
    amount_fen: int
    declared_at: datetime
    published_on: date | None


async def inventor_rewards_between(
    session: AsyncSession, organizations: Sequence[uuid.UUID], start: datetime, end: datetime
) -> list[RewardFact]:
    """The inventors' rewards these organizations declared in [start, end), for their filings."""
    rows = (
        await session.execute(
            select(TransformationIncome, InventorReward, Deal.seller_organization_id)
            .join(InventorReward, InventorReward.income_id == TransformationIncome.id)
            .join(Deal, Deal.id == TransformationIncome.deal_id)
            .where(
                among(Deal.seller_organization_id, organizations),
                TransformationIncome.declared_at >= start,
                TransformationIncome.declared_at < end,
            )
            .order_by(
                TransformationIncome.declared_at,
                TransformationIncome.id,
                InventorReward.inventor_name,
            )
        )
    ).all()
    facts = await contract_facts(session, {income.deal_id for income, _, _ in rows})
    return [
        RewardFact(
            organization_id=seller,
            deal_id=income.deal_id,
            payment_id=income.payment_id,
            registration_number=facts[income.deal_id].registration_number,
            inventor_name=reward.inventor_name,
            amount_fen=reward.amount_fen,
            declared_at=income.declared_at,
            published_on=income.rewards_published_on,
        )
        for income, reward, seller in rows
    ]


async def organizations_declaring_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[uuid.UUID]:
    """Sellers that declared inventors' rewards in [start, end)."""
    rows = await session.scalars(
        select(Deal.seller_organization_id)
        .join(TransformationIncome, TransformationIncome.deal_id == Deal.id)
        .where(TransformationIncome.declared_at >= start, TransformationIncome.declared_at < end)
        .distinct()
    )
    return sorted(rows.all(), key=str)

"""Reads of the deals package, below its service and anyone's to use: the deals a caller sees,
a deal's contract with its versions and what is still due, and what a payment needs of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.db import one_or_not_found
from app.core.errors import Forbidden, InvalidState
from app.deals.milestones import Milestone, outstanding
from app.deals.models import Contract, ContractState, ContractVersion, Deal
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

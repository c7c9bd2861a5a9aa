"""Transformation income (科技成果转化净收入) a university or institute declares against the money
a deal received, with its costs and the inventors' rewards it owes from it
(`inventor_rewards` has the arithmetic)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.core.auth import Principal
from app.core.errors import (
    AlreadyExists,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import queries
from app.deals.inventor_rewards import reward_pool, split
from app.deals.models import (
    InventorReward,
    TransformationIncome,
)
from app.deals.service import RESEARCH_SELLERS
from app.listings import queries as listings
from app.payments import queries as payments
from app.results import queries as results


@dataclass(frozen=True)
class IncomeView:
    income: TransformationIncome
    rewards: list[InventorReward]


async def declare_transformation_income(
    session: AsyncSession,
    principal: Principal,
    deal_id: uuid.UUID,
    *,
    payment_id: uuid.UUID,
    costs: Money,
    related_taxes: Money = Money(0),
    published_on: date | None = None,
    now: datetime,
) -> IncomeView:
    """A university or institute seller declares the net income of a received payment (income
    less the costs and related taxes it declares); the inventors' part — the organization's
    rate, at least 50 % (促进科技成果转化法 第四十五条) — is split by their shares and recorded,
    once per payment.

    Raises NotFound (not the seller's deal or payment), Forbidden, InvalidState (the seller is
    not a university or institute, the payment has not arrived, the result names no inventor),
    ValidationFailed(costs, related_taxes) `costs_above_income` when they pass the income,
    AlreadyExists(payment_id) for a second time.
    """
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    principal.require_manager(deal.seller_organization_id)
    seller = (await accounts.organizations_by_id(session, [deal.seller_organization_id]))[
        deal.seller_organization_id
    ]
    if seller.kind not in RESEARCH_SELLERS:
        raise InvalidState(detail_code="detail.rewards_research_sellers")
    payment = await payments.received_payment(session, deal.id, payment_id)
    if costs.fen > payment.amount_fen:
        raise ValidationFailed("body.costs", "costs_above_income")
    if costs.fen + related_taxes.fen > payment.amount_fen:
        raise ValidationFailed("body.related_taxes", "costs_above_income")
    if await session.scalar(
        select(TransformationIncome.id).where(TransformationIncome.payment_id == payment.id)
    ):
        raise AlreadyExists("body.payment_id")
    inventors = (
        await results.inventors_of(session, await listings.result_id_of(session, deal.listing_id))
        if deal.listing_id
        else []
    )
    if not inventors:
        raise InvalidState(detail_code="detail.no_inventors")
    net = payment.amount_fen - costs.fen - related_taxes.fen
    pool = reward_pool(net, seller.inventor_reward_percent)
    income = TransformationIncome(
        deal_id=deal.id,
        payment_id=payment.id,
        income_fen=payment.amount_fen,
        costs_fen=costs.fen,
        related_taxes_fen=related_taxes.fen,
        reward_percent=seller.inventor_reward_percent,
        pool_fen=pool,
        declared_by_id=principal.user_id,
        declared_at=now,
        rewards_published_on=published_on,
    )
    session.add(income)
    await session.flush()
    rewards = [
        InventorReward(
            income_id=income.id,
            inventor_id=inventor.id,
            inventor_name=inventor.name,
            share=inventor.share,
            amount_fen=amount,
        )
        for inventor, amount in zip(
            inventors, split(pool, [i.share for i in inventors]), strict=True
        )
    ]
    session.add_all(rewards)
    await record_event(
        session,
        "inventor_rewards.recorded",
        {
            "deal_id": str(deal.id),
            "income_id": str(income.id),
            "organization_id": str(seller.id),
            "pool": Money(pool).to_api(),
        },
    )
    return IncomeView(income, rewards)


async def list_transformation_incomes(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID
) -> list[IncomeView]:
    """The seller's declared incomes and inventors' rewards on a deal (the seller's members
    and staff; the buyer does not see them). Raises NotFound."""
    deal = await queries.get_deal_for(session, principal, deal_id)
    if not (principal.platform_roles or principal.is_member_of(deal.seller_organization_id)):
        raise NotFound()
    incomes = list(
        (
            await session.scalars(
                select(TransformationIncome)
                .where(TransformationIncome.deal_id == deal.id)
                .order_by(TransformationIncome.declared_at)
            )
        ).all()
    )
    rewards = (
        await session.scalars(
            select(InventorReward).where(
                InventorReward.income_id.in_([income.id for income in incomes])
            )
        )
    ).all()
    return [
        IncomeView(income, [r for r in rewards if r.income_id == income.id]) for income in incomes
    ]

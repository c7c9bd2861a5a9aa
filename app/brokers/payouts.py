"""Rewards as computed, paid out to brokers and their agencies per period from the reward fund,
and each beneficiary's year-to-date totals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.brokers.models import (
    Claim,
    RewardEntry,
    RewardPayout,
)
from app.brokers.policies import RewardPolicy, all_policies, policy_in_force
from app.brokers.queries import claims_visible_to
from app.brokers.service import REWARD_FUND
from app.core.auth import PlatformRole, Principal
from app.core.clock import month_start
from app.core.errors import (
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.payments import ledger
from app.payments.provider import PaymentProvider


@dataclass(frozen=True)
class RewardView:
    claim: Claim
    total_fen: int
    paid_fen: int
    latest: RewardEntry


async def list_rewards(
    session: AsyncSession, principal: Principal, *, year: int | None = None
) -> list[RewardView]:
    """The rewards of the claims the caller may see: amount, paid part, and the working of the
    latest computation."""
    query = select(Claim).where(await claims_visible_to(session, principal))
    if year is not None:
        query = query.where(Claim.policy_year == year)
    claims = {c.id: c for c in (await session.scalars(query)).all()}
    entries = (
        await session.scalars(
            select(RewardEntry)
            .where(RewardEntry.claim_id.in_(list(claims)))
            .order_by(RewardEntry.computed_at, RewardEntry.id)
        )
    ).all()
    views: dict[uuid.UUID, RewardView] = {}
    for entry in entries:
        previous = views.get(entry.claim_id)
        total = (previous.total_fen if previous else 0) + entry.amount_fen
        paid = (previous.paid_fen if previous else 0) + (entry.amount_fen if entry.payout_id else 0)
        views[entry.claim_id] = RewardView(claims[entry.claim_id], total, paid, entry)
    return sorted(views.values(), key=lambda v: (v.claim.policy_year, v.claim.filed_at))


def _period_end(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    return month_start(year, month + 1)


async def pay_rewards(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    *,
    period: str,
    now: datetime,
) -> list[RewardPayout]:
    """Platform finance pays every beneficiary the rewards computed up to the end of `period`
    and not yet paid, one payout each, booked from the reward fund. A beneficiary whose unpaid
    total is not positive (a downward adjustment) waits for the next period. Entries are locked,
    so two runs at once pay once."""
    principal.require_platform_role(PlatformRole.finance)
    end = _period_end(period)
    if end > now + timedelta(days=31):
        raise ValidationFailed("body.period", "period_in_future")
    entries = (
        await session.execute(
            select(RewardEntry, Claim)
            .join(Claim, Claim.id == RewardEntry.claim_id)
            .where(RewardEntry.payout_id.is_(None), RewardEntry.computed_at < end)
            .order_by(RewardEntry.computed_at, RewardEntry.id)
            .with_for_update(of=RewardEntry)
        )
    ).all()
    by_payee: dict[tuple[str, uuid.UUID], list[RewardEntry]] = {}
    for entry, claim in entries:
        payee = (
            ("broker", claim.broker_id)
            if claim.broker_id
            else ("organization", claim.organization_id)
        )
        by_payee.setdefault(payee, []).append(entry)  # type: ignore[arg-type]
    payouts = []
    for (kind, payee_id), items in sorted(by_payee.items(), key=lambda item: str(item[0][1])):
        amount = sum(item.amount_fen for item in items)
        if amount <= 0:
            continue
        recipient = (
            await accounts.recipient_for_broker(session, payee_id)
            if kind == "broker"
            else await accounts.organization_for_payout(session, payee_id)
        )
        reference = await provider.pay_out(Money(amount), recipient=recipient, purpose="jb")
        payout = RewardPayout(
            period=period,
            broker_id=payee_id if kind == "broker" else None,
            organization_id=payee_id if kind == "organization" else None,
            amount_fen=amount,
            provider=provider.name,
            provider_reference=reference,
            paid_at=now,
            paid_by_id=principal.user_id,
        )
        session.add(payout)
        await session.flush()
        for item in items:
            item.payout_id = payout.id
        ledger.transfer(
            session,
            debit=REWARD_FUND,
            credit=ledger.bank(provider.name),
            amount_fen=amount,
            memo=f"rewards {period}",
            now=now,
        )
        await record_event(
            session,
            "payout.paid",
            {
                "reward_payout_id": str(payout.id),
                "period": period,
                "amount": Money(amount).to_api(),
            },
        )
        payouts.append(payout)
    return payouts


async def list_reward_payouts(session: AsyncSession, principal: Principal) -> list[RewardPayout]:
    """Reward payouts to the caller (as broker or organization); all of them for staff."""
    query = select(RewardPayout).order_by(RewardPayout.paid_at.desc())
    if not principal.platform_roles:
        broker = await accounts.broker_of_user(session, principal.user_id)
        query = query.where(
            or_(
                RewardPayout.broker_id == broker.id if broker else false(),
                RewardPayout.organization_id.in_(list(principal.memberships)),
            )
        )
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class YearTotal:
    policy: RewardPolicy
    year: int
    broker_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    total_fen: int
    paid_fen: int
    year_cap_fen: int | None


async def year_to_date(
    session: AsyncSession, principal: Principal, *, year: int
) -> list[YearTotal]:
    """The caller's own reward totals for a year — as a broker, and for each organization it
    belongs to — per policy, against the policy's year cap. Rewards the caller may only see
    (a broker's on the caller's deal, a share its agency passed on) are not the caller's. A
    broker's share of an agency's subsidy has no cap of its own: the cap is the agency's."""
    broker = await accounts.broker_of_user(session, principal.user_id)
    totals: dict[tuple[str, uuid.UUID | None, uuid.UUID | None], list[int]] = {}
    for view in await list_rewards(session, principal, year=year):
        claim = view.claim
        if claim.broker_id is not None:
            if broker is None or claim.broker_id != broker.id:
                continue
        elif claim.organization_id not in principal.memberships:
            continue
        key = (claim.policy_code, claim.broker_id, claim.organization_id)
        totals.setdefault(key, [0, 0])
        totals[key][0] += view.total_fen
        totals[key][1] += view.paid_fen
    result = []
    for (code, broker_id, organization_id), (total, paid) in sorted(
        totals.items(), key=lambda item: (item[0][0], str(item[0][1]), str(item[0][2]))
    ):
        policy = policy_in_force(code, date(year, 12, 31)) or next(
            p for p in all_policies() if p.code == code
        )
        passed_on = broker_id is not None and policy.beneficiary == "transfer_agency"
        cap = None if passed_on else policy.fen(policy.year_cap)
        result.append(YearTotal(policy, year, broker_id, organization_id, total, paid, cap))
    return result

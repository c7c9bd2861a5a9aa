"""Reads of the brokers package for other packages: reward payouts as a read model (statistics),
and who a claim or a payout concerns (webhook audiences)."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.brokers.models import (
    Claim,
    ClaimKind,
    RewardPayout,
)
from app.core.auth import Principal
from app.core.db import ReadModel
from app.deals import queries as deals


def reward_payouts_select() -> ReadModel:
    """The read model of reward payouts for statistics: `amount_fen`, `paid_at`."""
    return select(RewardPayout.amount_fen, RewardPayout.paid_at)


async def claim_beneficiaries(session: AsyncSession, claim_id: uuid.UUID) -> set[uuid.UUID]:
    """The organizations a claim's events concern: the claiming party, or the broker's transfer
    agency (a broker on their own has no organization to notify)."""
    claim = await session.get(Claim, claim_id)
    if claim is None:
        return set()
    return {
        organization for organization in (claim.organization_id, claim.agency_id) if organization
    }


async def payout_recipients(session: AsyncSession, payout_id: uuid.UUID) -> set[uuid.UUID]:
    """The organization a reward payout went to (none for a broker paid in person)."""
    payout = await session.get(RewardPayout, payout_id)
    return {payout.organization_id} if payout and payout.organization_id else set()


async def claims_visible_to(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    if principal.platform_roles:
        return Claim.id.is_not(None)
    broker = await accounts.broker_of_user(session, principal.user_id)
    organizations = list(principal.memberships)
    return or_(
        Claim.broker_id == broker.id if broker else false(),
        Claim.organization_id.in_(organizations),
        Claim.deal_id.in_(await deals.deal_ids_of(session, organizations)),
        # The shares an agency passed to its brokers: the agency's own decision.
        and_(Claim.kind == ClaimKind.agency_share, Claim.agency_id.in_(organizations)),
    )

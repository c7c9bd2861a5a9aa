"""Reads of the brokers package for other packages: reward payouts as a read model (statistics),
and who a claim or a payout concerns (webhook audiences)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.brokers.models import (
    Claim,
    RewardPayout,
)
from app.core.db import ReadModel


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

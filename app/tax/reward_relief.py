"""Researchers' reward relief (科技人员转化奖励减按50%计入工资): per paying organization and month,
each inventor's cash reward and the part counted as wages (财税〔2018〕58号)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization
from app.core.clock import beijing_date
from app.deals import queries as deals
from app.payments import queries as payments
from app.tax import rules
from app.tax.contents import (
    Body,
    yuan,
)


async def reward_relief_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    rule_set = rules.rule_set("researcher_reward_relief", beijing_date(start))
    ids = [organization.id for organization in taxpayers]
    rewards = await deals.inventor_rewards_between(session, ids, start, end)
    received = await payments.received_dates(session, {r.payment_id for r in rewards})
    by_payer: dict[uuid.UUID, list[deals.RewardFact]] = {payer: [] for payer in ids}
    for reward in rewards:
        by_payer[reward.organization_id].append(reward)
    return {payer: reward_relief_body(rule_set, paid, received) for payer, paid in by_payer.items()}


def reward_relief_body(
    rule_set: rules.RuleSet,
    rewards: Sequence[deals.RewardFact],
    received: dict[uuid.UUID, datetime],
) -> Body:
    """Per paying organization and month: each researcher's cash reward, the part counted as
    wages (half when the conditions hold) and the conditions (财税〔2018〕58号)."""
    lines = []
    taxable_total = relieved_total = 0
    for reward in rewards:
        relief = rules.researcher_reward_relief(
            rule_set,
            reward_fen=reward.amount_fen,
            contract_registered=reward.registration_number is not None,
            reward_published=reward.published_on is not None,
            income_received_on=beijing_date(received[reward.payment_id]),
            reward_paid_on=beijing_date(reward.declared_at),
        )
        taxable_total += relief.taxable_fen
        relieved_total += relief.relieved_fen
        lines.append(
            {
                "researcher": reward.inventor_name,
                "deal_id": str(reward.deal_id),
                "registration_number": reward.registration_number,
                "reward": yuan(relief.reward_fen),
                "taxable": yuan(relief.taxable_fen),
                "relieved": yuan(relief.relieved_fen),
                "conditions_met": relief.conditions_met,
                "published_on": reward.published_on.isoformat() if reward.published_on else None,
            }
        )
    content = {
        "lines": lines,
        "totals": {"taxable": yuan(taxable_total), "relieved": yuan(relieved_total)},
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version

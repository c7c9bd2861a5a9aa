"""Transfer agencies' post-subsidy (服务方后补助, 内科发成字〔2021〕12号): a yearly application
by an agency the region recognized, on the 技术交易额 its brokers brought about that year, paid
by its evaluation's score band.

The reward engine's steps apply as they are (`tiers.compute`): the rate tiers on the year's
brokered amount, the contract cap (none: the claim is on a year), the band's percent as the
share, and the policy's year cap — per agency and year, since an agency applies once a year.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import Organization, OrganizationKind
from app.brokers.agencies import indicators_of
from app.brokers.models import AgencyEvaluation, Claim, ClaimKind, ClaimState
from app.brokers.policies import RewardPolicy, policy_for, policy_in_force
from app.brokers.tiers import Working, compute
from app.core.auth import Principal
from app.core.clock import month_start
from app.core.errors import ValidationFailed


async def _evaluation(
    session: AsyncSession, agency_id: uuid.UUID, year: int
) -> AgencyEvaluation | None:
    return await session.scalar(
        select(AgencyEvaluation).where(
            AgencyEvaluation.organization_id == agency_id, AgencyEvaluation.year == year
        )
    )


async def agency_application(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: uuid.UUID | None,
    year: int,
    policy_code: str | None,
    now: datetime,
) -> Claim:
    """A transfer agency's application for its post-subsidy of a finished year, by its owner
    or an admin (not yet added to the session). Raises Forbidden, NotFound; ValidationFailed:
    `not_a_transfer_agency` and `not_recognized` (body.organization_id: no recognition covers
    any of the year), `year_not_over`, `not_evaluated` and `evaluation_not_passed`
    (body.year), the policy's errors (body.policy_code)."""
    agency_id = principal.acting_for(organization_id)
    principal.require_manager(agency_id)
    agency = (await accounts.organizations_by_id(session, [agency_id]))[agency_id]
    if agency.kind != OrganizationKind.transfer_agency:
        raise ValidationFailed("body.organization_id", "not_a_transfer_agency")
    if now < month_start(year + 1, 1):
        raise ValidationFailed("body.year", "year_not_over")
    first, last = date(year, 1, 1), date(year, 12, 31)
    if not await accounts.recognized_during(session, agency.id, first, last):
        raise ValidationFailed("body.organization_id", "not_recognized", year=year)
    evaluation = await _evaluation(session, agency.id, year)
    if evaluation is None:
        raise ValidationFailed("body.year", "not_evaluated")
    if not evaluation.passed:
        raise ValidationFailed("body.year", "evaluation_not_passed", total=str(evaluation.total))
    policy = policy_for(policy_code, {"transfer_agency"}, on=last, region=agency.division_code)
    return Claim(
        kind=ClaimKind.agency,
        policy_code=policy.code,
        policy_year=year,
        organization_id=agency.id,
        share_percent=Decimal(100),
        # The agency applies for itself: the reviewers' approval is the decision.
        state=ClaimState.confirmed,
        confirmed_by_id=principal.user_id,
        confirmed_at=now,
    )


@dataclass(frozen=True)
class AgencyReward:
    policy: RewardPolicy
    working: Working | None
    reason: str | None
    """Why nothing is due (a reason code), or None."""
    basis: dict[str, Any]
    """The year's figures the reward stands on, for its working."""


async def agency_reward(
    session: AsyncSession, claim: Claim, agency: Organization, *, now: datetime
) -> AgencyReward | None:
    """What an approved agency claim earns now (None when its policy is no longer in force for
    the year): the year's brokered 技术交易额 as registered today, through the tiers, at the
    percent of the evaluation's band, within the year cap. A re-evaluation or a change
    registration of that year's contracts gives another amount, recorded as an adjustment."""
    last = date(claim.policy_year, 12, 31)
    policy = policy_in_force(claim.policy_code, last)
    if policy is None:
        return None
    indicators = await indicators_of(session, agency, claim.policy_year, now=now)
    evaluation = await _evaluation(session, agency.id, claim.policy_year)
    basis: dict[str, Any] = {
        "year": claim.policy_year,
        "contracts": indicators.contracts,
        "brokered_fen": indicators.amount.fen,
        "evaluation_total": None if evaluation is None else str(evaluation.total),
        "evaluation_passed": None if evaluation is None else evaluation.passed,
    }
    if not agency.division_code.startswith(policy.region):
        return AgencyReward(policy, None, "outside_region", basis)
    if evaluation is None or not evaluation.passed:
        return AgencyReward(policy, None, "evaluation_not_passed", basis)
    percent = policy.band_percent(evaluation.total)
    basis["band_percent"] = None if percent is None else str(percent)
    if percent is None:
        return AgencyReward(policy, None, "below_score_bands", basis)
    working = compute(
        transaction_fen=indicators.amount.fen,
        tiers=policy.rate_tiers(),
        contract_cap_fen=policy.fen(policy.contract_cap),
        share=percent,
        received_fen=None,
        year_cap_fen=policy.fen(policy.year_cap),
        year_used_fen=0,
    )
    return AgencyReward(policy, working, None, basis)

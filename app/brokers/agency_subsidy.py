"""Transfer agencies' post-subsidy (服务方后补助, 内科发成字〔2021〕12号): a yearly application
by an agency the region recognized, on the 技术交易额 its brokers brought about that year, paid
by its evaluation's score band; and the part of it the agency passes to its brokers
(机构可提取一定比例奖励技术经纪人), declared by the agency as percents of its subsidy.

The reward engine's steps apply as they are (`tiers.compute`): the rate tiers on the year's
brokered amount, the contract cap (none: the claim is on a year), the band's percent as the
share, and the policy's year cap — per agency and year, since an agency applies once a year.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import Organization, OrganizationKind
from app.brokers.agencies import evaluation_of_year, indicators_of
from app.brokers.models import Claim, ClaimKind, ClaimState
from app.brokers.policies import RewardPolicy, policy_for, policy_in_force
from app.brokers.queries import claims_visible_to
from app.brokers.tiers import Working, compute
from app.core.auth import Principal
from app.core.clock import month_start
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.money import allocate
from app.core.outbox import record_event


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
    evaluation = await evaluation_of_year(session, agency.id, year)
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
    evaluation = await evaluation_of_year(session, agency.id, claim.policy_year)
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


async def share_with_brokers(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    shares: Mapping[uuid.UUID, Decimal],
    *,
    now: datetime,
) -> list[Claim]:
    """The agency (owner or admin) declares which percent of its subsidy goes to which of its
    brokers; declaring again replaces the split (a broker left out keeps a share of 0, so
    their reward is adjusted, never erased). Each share is a claim of its own, paid to the
    broker like every reward. Returns the split's shares with a percent above 0.

    Raises NotFound, Forbidden (not the agency's manager), InvalidState (a rejected claim),
    ValidationFailed: `not_an_agency_claim` (path.claim_id), `not_the_agencys_broker`
    (body.shares.<broker_id>), `shares_over_100` (body.shares)."""
    claim = await session.scalar(
        select(Claim)
        .where(Claim.id == claim_id, await claims_visible_to(session, principal))
        .with_for_update()
    )
    if claim is None:
        raise NotFound()
    if claim.kind != ClaimKind.agency or claim.organization_id is None:
        raise ValidationFailed("path.claim_id", "not_an_agency_claim")
    principal.require_manager(claim.organization_id)
    if claim.state == ClaimState.rejected:
        raise InvalidState(detail_code="detail.claim_state", state=claim.state.value)
    brokers = await accounts.brokers_by_id(session, shares)
    for broker_id in shares:
        broker = brokers.get(broker_id)
        if broker is None or broker.agency_id != claim.organization_id or not broker.active:
            raise ValidationFailed(f"body.shares.{broker_id}", "not_the_agencys_broker")
    total = sum(shares.values(), Decimal(0))
    if total > 100:
        raise ValidationFailed("body.shares", "shares_over_100", total=str(total))
    existing: dict[uuid.UUID | None, Claim] = {
        share.broker_id: share
        for share in await session.scalars(
            select(Claim).where(Claim.agency_claim_id == claim.id).with_for_update()
        )
    }
    before = {str(b): str(share.share_percent) for b, share in existing.items()}
    for left_out in existing.keys() - shares.keys():
        existing[left_out].share_percent = Decimal(0)
    for broker_id, percent in shares.items():
        share = existing.get(broker_id)
        if share is None:
            share = Claim(
                kind=ClaimKind.agency_share,
                policy_code=claim.policy_code,
                policy_year=claim.policy_year,
                broker_id=broker_id,
                agency_id=claim.organization_id,
                agency_claim_id=claim.id,
                # The agency's declaration is the decision on its own money.
                state=ClaimState.approved,
                filed_by_id=principal.user_id,
                filed_at=now,
                confirmed_by_id=principal.user_id,
                confirmed_at=now,
                decided_by_id=principal.user_id,
                decided_at=now,
            )
            session.add(share)
            existing[broker_id] = share
        share.share_percent = percent
    await session.flush()
    await record_event(
        session,
        "claim.shared",
        {
            "claim_id": str(claim.id),
            "deal_id": None,
            "organization_id": str(claim.organization_id),
            "shares": {str(b): str(percent) for b, percent in shares.items()},
        },
        before={"shares": before},
    )
    return sorted(
        (share for share in existing.values() if share.share_percent > 0),
        key=lambda share: str(share.broker_id),
    )


def split(amount_fen: int, percents: Sequence[Decimal]) -> list[int]:
    """The brokers' parts of an agency's subsidy at `percents` (adding up to at most 100), the
    agency's rest being the last share of `allocate`: no fen is made or lost, and the agency
    keeps `amount_fen - sum(parts)` (pure)."""
    rest = Decimal(100) - sum(percents, Decimal(0))
    return allocate(amount_fen, [*percents, rest])[:-1]

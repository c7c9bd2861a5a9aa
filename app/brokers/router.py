"""HTTP routes of the brokers package: claims, rewards, payouts, reward policies."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from app.brokers import agencies, agency_subsidy, service
from app.brokers import payouts as reward_payouts
from app.brokers.auth import RewardRead, RewardStaff, RewardWrite
from app.brokers.models import AgencyEvaluation, Claim, ClaimState, RewardPayout
from app.brokers.policies import RewardPolicy, all_policies
from app.brokers.schemas import (
    AgencyEvaluationIn,
    AgencyEvaluationOut,
    AgencyIndicatorsOut,
    BrokerShares,
    ClaimCreate,
    ClaimOut,
    ClaimResponse,
    PayoutRun,
    PolicyOut,
    RewardOut,
    RewardPayoutOut,
    TierOut,
    YearTotalOut,
)
from app.brokers.score_sheet import score_sheet
from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.money import Money
from app.core.pagination import Page, PageParams, page_params
from app.core.score_sheets import ScoreSheet
from app.payments.provider import Provider

router = APIRouter(prefix="/v1", tags=["rewards"], responses=problem_responses(401, 403, 404, 422))
Pagination = Annotated[PageParams, Depends(page_params)]


def claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        kind=claim.kind,
        deal_id=claim.deal_id,
        agency_claim_id=claim.agency_claim_id,
        policy_code=claim.policy_code,
        policy_year=claim.policy_year,
        broker_id=claim.broker_id,
        organization_id=claim.organization_id,
        role=claim.role,
        share=claim.share_percent,
        state=claim.state,
        filed_at=claim.filed_at,
        dispute_reason=claim.dispute_reason,
        rejection_reason=claim.rejection_reason,
    )


def policy_out(policy: RewardPolicy) -> PolicyOut:
    return PolicyOut(
        code=policy.code,
        version=policy.version,
        title=policy.title,
        region=policy.region,
        beneficiary=policy.beneficiary,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        contract_types=policy.contract_types,
        broker_levels=policy.broker_levels,
        tiers=[TierOut(upper=Money.optional(t.upper), rate=t.rate) for t in policy.rate_tiers()],
        contract_cap=Money.optional(policy.fen(policy.contract_cap)),
        year_cap=Money.optional(policy.fen(policy.year_cap)),
        agency_year_cap=Money.optional(policy.fen(policy.agency_year_cap)),
        minimum_contract=Money.optional(policy.fen(policy.minimum_contract)),
        pro_rata_to_received=policy.pro_rata_to_received,
        example=policy.example,
        source=policy.source,
    )


def payout_out(payout: RewardPayout) -> RewardPayoutOut:
    return RewardPayoutOut(
        id=payout.id,
        period=payout.period,
        broker_id=payout.broker_id,
        organization_id=payout.organization_id,
        amount=Money(payout.amount_fen),
        provider=payout.provider,
        reference=payout.provider_reference,
        paid_at=payout.paid_at,
    )


@router.get(
    "/reward-policies", response_model=list[PolicyOut], summary="Reward policies (奖补政策)"
)
async def list_policies(caller: RewardRead) -> list[PolicyOut]:
    """Every version of every policy, with its tiers, caps and source; examples are marked."""
    return [policy_out(policy) for policy in all_policies()]


@router.post(
    "/broker-claims",
    response_model=ClaimOut,
    status_code=status.HTTP_201_CREATED,
    summary="File a reward claim",
    responses=problem_responses(409),
)
async def file_claim(
    request: Request,
    session: Session,
    now: Now,
    caller: RewardWrite,
    idempotency: IdempotencyOf,
    body: ClaimCreate,
) -> ClaimOut:
    """A broker claims attribution on a registered contract (role and share; a party to the deal
    confirms it), or a party applies for its post-subsidy (技术交易后补助) on a registered, paid
    contract — claims on a contract close `CLAIM_DEADLINE_DAYS` after registration; or a
    transfer agency the region recognized applies for its post-subsidy (服务方后补助) of a finished
    year its evaluation passed."""
    await idempotency.claim(caller)
    claim = await service.file_claim(
        session,
        caller,
        kind=body.kind,
        deal_id=body.deal_id,
        year=body.year,
        role=body.role,
        share=body.share,
        organization_id=body.organization_id,
        policy_code=body.policy_code,
        deadline_days=request.app.state.settings.claim_deadline_days,
        now=now,
    )
    return await idempotency.remember(claim_out(claim), status_code=201)


@router.get("/broker-claims", response_model=Page[ClaimOut], summary="List claims")
async def list_claims(
    session: Session,
    caller: RewardRead,
    pagination: Pagination,
    deal_id: uuid.UUID | None = None,
    state: ClaimState | None = None,
) -> Page[ClaimOut]:
    """Your claims, claims on your organizations' deals; all of them for staff."""
    claims, cursor = await service.list_claims(
        session, caller, pagination, deal_id=deal_id, state=state
    )
    return Page(items=[claim_out(c) for c in claims], next_cursor=cursor)


@router.get("/broker-claims/{claim_id}", response_model=ClaimOut, summary="Get a claim")
async def get_claim(session: Session, caller: RewardRead, claim_id: uuid.UUID) -> ClaimOut:
    """A claim you filed, one on your organization's deal, or any for staff."""
    return claim_out(await service.get_claim_for(session, caller, claim_id))


@router.post(
    "/broker-claims/{claim_id}/confirm",
    response_model=ClaimOut,
    summary="Confirm a broker's claim (a party)",
    responses=problem_responses(409),
)
async def confirm_claim(
    session: Session, now: Now, caller: RewardWrite, claim_id: uuid.UUID
) -> ClaimOut:
    """An owner or admin of either party confirms the broker helped as claimed."""
    return claim_out(
        await service.respond_to_claim(
            session, caller, claim_id, confirm=True, reason=None, now=now
        )
    )


@router.post(
    "/broker-claims/{claim_id}/dispute",
    response_model=ClaimOut,
    summary="Dispute a broker's claim (a party)",
    responses=problem_responses(409),
)
async def dispute_claim(
    session: Session, now: Now, caller: RewardWrite, claim_id: uuid.UUID, body: ClaimResponse
) -> ClaimOut:
    """An owner or admin of either party disputes the claim, with a reason."""
    return claim_out(
        await service.respond_to_claim(
            session, caller, claim_id, confirm=False, reason=body.reason, now=now
        )
    )


@router.post(
    "/broker-claims/{claim_id}/approve",
    response_model=ClaimOut,
    summary="Approve a claim (platform reviewers)",
    responses=problem_responses(409),
)
async def approve_claim(
    session: Session, now: Now, caller: RewardStaff, claim_id: uuid.UUID
) -> ClaimOut:
    """Approve a confirmed claim. Approved shares on one contract never exceed 100 %
    (409 `share_over_remainder`)."""
    return claim_out(
        await service.decide_claim(session, caller, claim_id, approve=True, reason=None, now=now)
    )


@router.post(
    "/broker-claims/{claim_id}/reject",
    response_model=ClaimOut,
    summary="Reject a claim (platform reviewers)",
    responses=problem_responses(409),
)
async def reject_claim(
    session: Session, now: Now, caller: RewardStaff, claim_id: uuid.UUID, body: ClaimResponse
) -> ClaimOut:
    """Reject a claim with a reason."""
    return claim_out(
        await service.decide_claim(
            session, caller, claim_id, approve=False, reason=body.reason, now=now
        )
    )


@router.put(
    "/broker-claims/{claim_id}/broker-shares",
    response_model=list[ClaimOut],
    summary="Pass part of an agency's post-subsidy to its brokers",
)
async def share_with_brokers(
    session: Session, now: Now, caller: RewardWrite, claim_id: uuid.UUID, body: BrokerShares
) -> list[ClaimOut]:
    """The agency (owner or admin) declares which percent of its post-subsidy goes to which of
    its brokers (together at most 100 %); a new declaration replaces the split. Each broker's
    share is computed with the subsidy, shown on their rewards and year-to-date, and paid to
    them by the next payout run; the agency keeps the rest."""
    shares = await agency_subsidy.share_with_brokers(
        session, caller, claim_id, body.shares, now=now
    )
    return [claim_out(share) for share in shares]


@router.get("/rewards", response_model=list[RewardOut], summary="Rewards")
async def list_rewards(
    session: Session,
    caller: RewardRead,
    year: Annotated[int | None, Query(ge=2000, le=2099)] = None,
) -> list[RewardOut]:
    """Each visible claim's reward: amount, paid part, and the working of the last computation
    (tier lines, share, pro rata, caps, policy version, citation)."""
    return [
        RewardOut(
            claim=claim_out(view.claim),
            amount=Money(view.total_fen),
            paid=Money(view.paid_fen),
            policy_code=view.latest.policy_code,
            policy_version=view.latest.policy_version,
            working=view.latest.working,
            computed_at=view.latest.computed_at,
        )
        for view in await reward_payouts.list_rewards(session, caller, year=year)
    ]


@router.get(
    "/rewards/year-to-date", response_model=list[YearTotalOut], summary="Totals against caps"
)
async def year_to_date(
    session: Session, caller: RewardRead, year: Annotated[int, Query(ge=2000, le=2099)]
) -> list[YearTotalOut]:
    """Your own rewards of a year — as a broker, and for each of your organizations — per
    policy, paid and unpaid, against the policy's year cap."""
    return [
        YearTotalOut(
            policy_code=total.policy.code,
            year=total.year,
            broker_id=total.broker_id,
            organization_id=total.organization_id,
            total=Money(total.total_fen),
            paid=Money(total.paid_fen),
            year_cap=Money.optional(total.year_cap_fen),
        )
        for total in await reward_payouts.year_to_date(session, caller, year=year)
    ]


@router.post(
    "/payouts",
    response_model=list[RewardPayoutOut],
    status_code=status.HTTP_201_CREATED,
    summary="Pay the rewards of a period (platform finance)",
)
async def pay_rewards(
    session: Session,
    now: Now,
    provider: Provider,
    caller: RewardStaff,
    idempotency: IdempotencyOf,
    body: PayoutRun,
) -> list[RewardPayoutOut]:
    """One payout per beneficiary of everything computed up to the period's end and unpaid;
    running it twice pays nothing twice."""
    await idempotency.claim(caller)
    payouts = await reward_payouts.pay_rewards(
        session, caller, provider, period=body.period, now=now
    )
    return await idempotency.remember([payout_out(p) for p in payouts], status_code=201)


@router.get("/payouts", response_model=list[RewardPayoutOut], summary="Reward payouts")
async def list_payouts(session: Session, caller: RewardRead) -> list[RewardPayoutOut]:
    """Payouts to you (as a broker or an organization); all of them for staff."""
    return [payout_out(p) for p in await reward_payouts.list_reward_payouts(session, caller)]


@router.get(
    "/organizations/{organization_id}/agency-indicators",
    response_model=AgencyIndicatorsOut,
    summary="A transfer agency's service performance of a year (服务绩效)",
    tags=["organizations"],
)
async def agency_indicators(
    session: Session,
    now: Now,
    caller: RewardRead,
    organization_id: uuid.UUID,
    year: Annotated[int, Query(ge=2000, le=2100, examples=[2026])],
) -> AgencyIndicatorsOut:
    """What the agency's yearly evaluation starts from: the contracts registered in the year
    that its brokers brought about (named by the parties), their 技术交易额 as registered, the
    clients on either side, and their share of the contracts its province registered. The
    agency's members and platform staff; a year under way counts up to now."""
    indicators = await agencies.agency_indicators(session, caller, organization_id, year, now=now)
    return AgencyIndicatorsOut(
        agency_id=indicators.agency_id,
        year=indicators.year,
        contracts=indicators.contracts,
        amount=indicators.amount,
        clients=indicators.clients,
        region_contracts=indicators.region_contracts,
        region_share=indicators.region_share,
    )


def evaluation_out(evaluation: AgencyEvaluation) -> AgencyEvaluationOut:
    seen = evaluation.indicators
    return AgencyEvaluationOut(
        agency_id=evaluation.organization_id,
        year=evaluation.year,
        sheet_version=evaluation.sheet_version,
        scores={code: Decimal(score) for code, score in evaluation.scores.items()},
        total=evaluation.total,
        passed=evaluation.passed,
        indicators=AgencyIndicatorsOut(
            agency_id=evaluation.organization_id,
            year=evaluation.year,
            contracts=seen["contracts"],
            amount=Money(seen["amount_fen"]),
            clients=seen["clients"],
            region_contracts=seen["region_contracts"],
            region_share=None if seen["region_share"] is None else Decimal(seen["region_share"]),
        ),
        note=evaluation.note,
        evaluated_at=evaluation.evaluated_at,
    )


@router.get(
    "/agency-score-sheet",
    response_model=ScoreSheet,
    summary="The transfer agencies' yearly score sheet (年度绩效评价评分表)",
)
async def agency_score_sheet(caller: RewardRead) -> ScoreSheet:
    """The criteria with their weights (out of 100), the pass mark and the source; marked
    when it is a configurable example."""
    return score_sheet()


@router.put(
    "/organizations/{organization_id}/agency-evaluations/{year}",
    response_model=AgencyEvaluationOut,
    summary="Record a transfer agency's yearly evaluation (年度绩效评价)",
    tags=["organizations"],
)
async def evaluate_agency(
    session: Session,
    now: Now,
    caller: RewardStaff,
    organization_id: uuid.UUID,
    year: Annotated[int, Path(ge=2000, le=2100)],
    body: AgencyEvaluationIn,
) -> AgencyEvaluationOut:
    """Platform reviewers score a finished year on the score sheet; the indicators computed
    from the registered contracts are kept with it. Recording it again replaces the scores, and
    the agency's post-subsidy for the year follows."""
    evaluation = await agencies.evaluate_agency(
        session, caller, organization_id, year, scores=body.scores, note=body.note, now=now
    )
    return evaluation_out(evaluation)


@router.get(
    "/organizations/{organization_id}/agency-evaluations/{year}",
    response_model=AgencyEvaluationOut,
    summary="A transfer agency's yearly evaluation",
    tags=["organizations"],
)
async def agency_evaluation(
    session: Session,
    caller: RewardRead,
    organization_id: uuid.UUID,
    year: Annotated[int, Path(ge=2000, le=2100)],
) -> AgencyEvaluationOut:
    """The scores, total, whether it passed and the indicators the reviewers saw: to the
    agency's members and platform staff."""
    return evaluation_out(await agencies.evaluation_of(session, caller, organization_id, year))

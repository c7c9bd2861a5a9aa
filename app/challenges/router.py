"""HTTP routes of the challenges package (揭榜挂帅)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from app.challenges import awards, proposals, review, service
from app.challenges import search as challenge_search
from app.challenges.auth import ChallengeRead, ChallengeReview, ChallengeWrite
from app.challenges.models import Challenge, ChallengeState, Objection, Proposal, ProposalScore
from app.challenges.schemas import (
    Attachment,
    AwardDecision,
    AwardOut,
    ChallengeApproval,
    ChallengeCreate,
    ChallengeOut,
    ChallengeRejection,
    ChallengeSearchHit,
    ChallengeSearchPage,
    ChallengeTerms,
    ExpertAssignment,
    ExpertOut,
    Indicator,
    ObjectionCreate,
    ObjectionOut,
    ObjectionResolution,
    ProposalCreate,
    ProposalMilestoneOut,
    ProposalOut,
    ProposalScoring,
    ProposalTerms,
    RankedProposalOut,
    ScoreOut,
    TeamMember,
)
from app.challenges.search import ChallengeQuery, ChallengeSearchParameters
from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.money import NON_NEGATIVE_AMOUNT, Money, query_fen
from app.core.openapi import query_parameters
from app.core.pagination import Page, PageParams, cursor_offset, offset_cursor, page_params
from app.core.score_sheets import ScoreSheet
from search.parameters import FieldParameter, query_model
from search.router import search_rate

router = APIRouter(
    prefix="/v1/challenges",
    tags=["challenges"],
    responses=problem_responses(401, 403, 404, 422),
)
Pagination = Annotated[PageParams, Depends(page_params)]


def challenge_out(challenge: Challenge) -> ChallengeOut:
    return ChallengeOut(
        id=challenge.id,
        demand_id=challenge.demand_id,
        organization_id=challenge.organization_id,
        title=challenge.title,
        problem=challenge.problem,
        indicators=[Indicator(**indicator) for indicator in challenge.indicators],
        field_code=challenge.field_code,
        budget_min=Money.optional(challenge.budget_min_fen),
        budget_max=Money.optional(challenge.budget_max_fen),
        prize=Money.optional(challenge.prize_fen),
        proposals_due_at=challenge.proposals_due_at,
        open_beyond_region=challenge.open_beyond_region,
        attachments=[Attachment(**attachment) for attachment in challenge.attachments],
        state=challenge.state,
        rejection_reasons=challenge.rejection_reasons,
        published_at=challenge.published_at,
        window_days=challenge.window_days,
        submitted_at=challenge.submitted_at,
    )


@router.post(
    "",
    response_model=ChallengeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Make a demand an open challenge (揭榜挂帅)",
    responses=problem_responses(409),
)
async def create_challenge(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    idempotency: IdempotencyOf,
    body: ChallengeCreate,
) -> ChallengeOut:
    """A verified enterprise's owner or admin publishes its open demand as a challenge: the
    problem, the indicators to reach (指标), a budget range or a fixed prize, the deadline for
    proposals. It awaits the platform reviewers' screening; one challenge per demand."""
    await idempotency.claim(caller)
    challenge = await service.create_challenge(session, caller, body, now=now)
    return await idempotency.remember(challenge_out(challenge), status_code=201)


@router.get("", response_model=Page[ChallengeOut], summary="List challenges")
async def list_challenges(
    session: Session,
    caller: ChallengeRead,
    pagination: Pagination,
    field: FieldParameter = None,
    state: ChallengeState | None = None,
    budget_at_least: Annotated[
        str | None,
        Query(
            description="Yuan: a prize or budget top at least this much (open-ended budgets too).",
            examples=["500000"],
            json_schema_extra={"pattern": NON_NEGATIVE_AMOUNT},
        ),
    ] = None,
) -> Page[ChallengeOut]:
    """Published challenges, and your organization's in any state (staff: all), newest
    first."""
    rows, cursor = await service.list_challenges(
        session,
        caller,
        pagination,
        field=field,
        state=state,
        budget_at_least=Money.optional(query_fen("budget_at_least", budget_at_least)),
    )
    return Page(items=[challenge_out(c) for c in rows], next_cursor=cursor)


@router.get("/{challenge_id}", response_model=ChallengeOut, summary="Get a challenge")
async def get_challenge(
    session: Session, caller: ChallengeRead, challenge_id: uuid.UUID
) -> ChallengeOut:
    """A published challenge, or one of your organization's."""
    return challenge_out(await service.get_challenge_for(session, caller, challenge_id))


@router.put(
    "/{challenge_id}",
    response_model=ChallengeOut,
    summary="Correct a challenge before publication",
    responses=problem_responses(409),
)
async def revise_challenge(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    challenge_id: uuid.UUID,
    body: ChallengeTerms,
) -> ChallengeOut:
    """The owner corrects a challenge awaiting screening or refused; a refused one is
    submitted again."""
    return challenge_out(
        await service.revise_challenge(session, caller, challenge_id, body, now=now)
    )


@router.post(
    "/{challenge_id}/approve",
    response_model=ChallengeOut,
    summary="Publish a challenge (platform reviewers)",
    responses=problem_responses(409),
)
async def approve_challenge(
    session: Session,
    now: Now,
    caller: ChallengeReview,
    challenge_id: uuid.UUID,
    body: ChallengeApproval,
) -> ChallengeOut:
    """Publishes the challenge with its publication window (发榜公示期); the deadline for
    proposals must fall after the window."""
    challenge = await service.review_challenge(
        session, caller, challenge_id, window_days=body.window_days, now=now
    )
    return challenge_out(challenge)


@router.post(
    "/{challenge_id}/reject",
    response_model=ChallengeOut,
    summary="Refuse a challenge with reasons (platform reviewers)",
    responses=problem_responses(409),
)
async def reject_challenge(
    session: Session,
    now: Now,
    caller: ChallengeReview,
    challenge_id: uuid.UUID,
    body: ChallengeRejection,
) -> ChallengeOut:
    """Refuses the challenge with reasons; its owner may correct it and submit it again."""
    challenge = await service.review_challenge(
        session, caller, challenge_id, window_days=None, reasons=body.reasons, now=now
    )
    return challenge_out(challenge)


sheet_router = APIRouter(prefix="/v1", tags=["challenges"], responses=problem_responses(401, 403))
proposals_router = APIRouter(
    prefix="/v1/proposals", tags=["challenges"], responses=problem_responses(401, 403, 404, 422)
)


def proposal_out(proposal: Proposal) -> ProposalOut:
    return ProposalOut(
        id=proposal.id,
        challenge_id=proposal.challenge_id,
        organization_id=proposal.organization_id,
        approach=proposal.approach,
        team=[TeamMember(**member) for member in proposal.team],
        schedule=proposal.schedule,
        milestones=[
            ProposalMilestoneOut(
                description=m["description"],
                due_on=date.fromisoformat(m["due_on"]),
                amount=Money(int(m["amount_fen"])),
            )
            for m in proposal.milestones
        ],
        price=Money(proposal.price_fen),
        result_ids=[uuid.UUID(result_id) for result_id in proposal.result_ids],
        state=proposal.state,
        submitted_at=proposal.submitted_at,
        withdrawn_at=proposal.withdrawn_at,
    )


@router.post(
    "/{challenge_id}/proposals",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    summary="Take up a challenge (揭榜)",
    responses=problem_responses(409),
)
async def submit_proposal(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    idempotency: IdempotencyOf,
    challenge_id: uuid.UUID,
    body: ProposalCreate,
) -> ProposalOut:
    """A verified university, institute or enterprise submits its proposal before the
    deadline — approach, team, schedule, milestones adding up to the price, the results it
    builds on — once per organization. Nobody else sees it; the challenge's owner sees the
    proposals only once the deadline has passed."""
    await idempotency.claim(caller)
    proposal = await proposals.submit_proposal(session, caller, challenge_id, body, now=now)
    return await idempotency.remember(proposal_out(proposal), status_code=201)


@router.get(
    "/{challenge_id}/proposals", response_model=list[ProposalOut], summary="A challenge's proposals"
)
async def list_proposals(
    session: Session, now: Now, caller: ChallengeRead, challenge_id: uuid.UUID
) -> list[ProposalOut]:
    """Yours; every submitted one for the challenge's owner after the deadline; all for
    staff."""
    rows = await proposals.list_proposals(session, caller, challenge_id, now=now)
    return [proposal_out(p) for p in rows]


@proposals_router.get("/{proposal_id}", response_model=ProposalOut, summary="Get a proposal")
async def get_proposal(
    session: Session, now: Now, caller: ChallengeRead, proposal_id: uuid.UUID
) -> ProposalOut:
    """A proposal you may see (see the list)."""
    return proposal_out(await proposals.get_proposal_for(session, caller, proposal_id, now=now))


@proposals_router.put(
    "/{proposal_id}",
    response_model=ProposalOut,
    summary="Change a proposal before the deadline",
    responses=problem_responses(409),
)
async def revise_proposal(
    session: Session, now: Now, caller: ChallengeWrite, proposal_id: uuid.UUID, body: ProposalTerms
) -> ProposalOut:
    """The submitter replaces its proposal's terms until the deadline; a withdrawn proposal is
    submitted again."""
    return proposal_out(
        await proposals.revise_proposal(session, caller, proposal_id, body, now=now)
    )


@proposals_router.post(
    "/{proposal_id}/withdraw",
    response_model=ProposalOut,
    summary="Withdraw a proposal",
    responses=problem_responses(409),
)
async def withdraw_proposal(
    session: Session, now: Now, caller: ChallengeWrite, proposal_id: uuid.UUID
) -> ProposalOut:
    """The submitter withdraws its proposal before the deadline."""
    return proposal_out(await proposals.withdraw_proposal(session, caller, proposal_id, now=now))


@sheet_router.get(
    "/proposal-score-sheet",
    response_model=ScoreSheet,
    summary="The experts' score sheet for proposals (揭榜方案评分表)",
)
async def proposal_score_sheet(caller: ChallengeRead) -> ScoreSheet:
    """The criteria with their weights (out of 100) and the source; marked when it is a
    configurable example."""
    return review.proposal_score_sheet()


def score_out(score: ProposalScore) -> ScoreOut:
    return ScoreOut(
        proposal_id=score.proposal_id,
        expert_id=score.expert_id,
        sheet_version=score.sheet_version,
        scores={code: Decimal(value) for code, value in score.scores.items()},
        total=score.total,
        scored_at=score.scored_at,
    )


@router.post(
    "/{challenge_id}/experts",
    response_model=ExpertOut,
    status_code=status.HTTP_201_CREATED,
    summary="Name an expert for a challenge (platform reviewers)",
    responses=problem_responses(409),
)
async def assign_expert(
    session: Session,
    now: Now,
    caller: ChallengeReview,
    idempotency: IdempotencyOf,
    challenge_id: uuid.UUID,
    body: ExpertAssignment,
) -> ExpertOut:
    """Names a person with an account — staff or an outside expert — to score the challenge's
    proposals after the deadline."""
    await idempotency.claim(caller)
    expert = await review.assign_expert(
        session, caller, challenge_id, user_id=body.user_id, now=now
    )
    named = ExpertOut(
        id=expert.id,
        challenge_id=expert.challenge_id,
        user_id=expert.user_id,
        assigned_at=expert.assigned_at,
    )
    return await idempotency.remember(named, status_code=201)


@router.get(
    "/{challenge_id}/ranking",
    response_model=list[RankedProposalOut],
    summary="The proposals ranked by the experts' scores",
    responses=problem_responses(409),
)
async def ranking(
    session: Session, now: Now, caller: ChallengeRead, challenge_id: uuid.UUID
) -> list[RankedProposalOut]:
    """Once every expert has scored every proposal they may score: the mean of the totals per
    proposal, best first (ties: the lower price, then the earlier proposal), with each score.
    The challenge's owner, its experts and staff; 409 `scoring_incomplete` before then."""
    ranked = await review.ranking(session, caller, challenge_id, now=now)
    return [
        RankedProposalOut(
            rank=r.rank,
            proposal_id=r.proposal.id,
            organization_id=r.proposal.organization_id,
            price=Money(r.proposal.price_fen),
            mean=r.mean,
            scores=[score_out(s) for s in r.scores],
        )
        for r in ranked
    ]


@proposals_router.post(
    "/{proposal_id}/scores",
    response_model=ScoreOut,
    status_code=status.HTTP_201_CREATED,
    summary="Score a proposal (the challenge's experts)",
    responses=problem_responses(409),
)
async def score_proposal(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    idempotency: IdempotencyOf,
    proposal_id: uuid.UUID,
    body: ProposalScoring,
) -> ScoreOut:
    """An expert of the challenge scores a proposal once, after the deadline, on the score sheet
    (`GET /v1/proposal-score-sheet`), declaring no conflict of interest; a proposal of the
    expert's own organization is not theirs to score. Other experts' scores stay hidden until
    all have scored (see the ranking)."""
    await idempotency.claim(caller)
    score = await review.score_proposal(
        session, caller, proposal_id, body.scores, no_conflict=body.no_conflict, now=now
    )
    return await idempotency.remember(score_out(score), status_code=201)


def award_out(view: awards.AwardView) -> AwardOut:
    award, proposal = view.award, view.proposal
    return AwardOut(
        challenge_id=award.challenge_id,
        proposal_id=award.proposal_id,
        winner_organization_id=proposal.organization_id if proposal else None,
        price=Money(proposal.price_fen) if proposal else None,
        reason=award.reason,
        state=award.state,
        decided_at=award.decided_at,
        publicity_working_days=award.publicity_working_days,
        publicity_ends_at=award.publicity_ends_at,
        confirmed_at=award.confirmed_at,
        deal_id=view.deal_id,
    )


@router.post(
    "/{challenge_id}/award",
    response_model=AwardOut,
    status_code=status.HTTP_201_CREATED,
    summary="Award a challenge, or declare no proposal suitable",
    responses=problem_responses(409),
)
async def award_challenge(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    idempotency: IdempotencyOf,
    challenge_id: uuid.UUID,
    body: AwardDecision,
) -> AwardOut:
    """The owner decides once the ranking is complete: a ranked proposal wins and the award is
    public for its publicity period (公示, working days), open to objections; or none is
    suitable, with the reason, and the challenge closes (流榜). When the period ends with no
    objection standing, a deal opens with the winner and a draft development contract."""
    await idempotency.claim(caller)
    view = await awards.award_challenge(session, caller, challenge_id, body, now=now)
    return await idempotency.remember(award_out(view), status_code=201)


@router.get("/{challenge_id}/award", response_model=AwardOut, summary="A challenge's award")
async def get_award(session: Session, caller: ChallengeRead, challenge_id: uuid.UUID) -> AwardOut:
    """The standing decision, public as its publicity is; 404 before the owner has decided."""
    return award_out(await awards.get_award_for(session, caller, challenge_id))


def objection_out(objection: Objection, challenge_id: uuid.UUID) -> ObjectionOut:
    return ObjectionOut(
        id=objection.id,
        challenge_id=challenge_id,
        organization_id=objection.organization_id,
        grounds=objection.grounds,
        filed_at=objection.filed_at,
        state=objection.state,
        resolution=objection.resolution,
        resolved_at=objection.resolved_at,
    )


@router.post(
    "/{challenge_id}/objections",
    response_model=ObjectionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Object to an award during its publicity (异议)",
    responses=problem_responses(409),
)
async def file_objection(
    session: Session,
    now: Now,
    caller: ChallengeWrite,
    idempotency: IdempotencyOf,
    challenge_id: uuid.UUID,
    body: ObjectionCreate,
) -> ObjectionOut:
    """Any organization but the owner, once per award, until the publicity period ends; staff
    decide it. The award waits for every objection to be decided."""
    await idempotency.claim(caller)
    objection = await awards.file_objection(session, caller, challenge_id, body, now=now)
    return await idempotency.remember(objection_out(objection, challenge_id), status_code=201)


@router.get(
    "/{challenge_id}/objections",
    response_model=list[ObjectionOut],
    summary="Objections to a challenge's awards",
)
async def list_objections(
    session: Session, caller: ChallengeRead, challenge_id: uuid.UUID
) -> list[ObjectionOut]:
    """All of them for the owner and staff; your organization's own for anyone else."""
    rows = await awards.list_objections(session, caller, challenge_id)
    return [objection_out(objection, challenge) for objection, challenge in rows]


@router.post(
    "/{challenge_id}/objections/{objection_id}/resolve",
    response_model=ObjectionOut,
    summary="Decide an objection (platform reviewers)",
    responses=problem_responses(409),
)
async def resolve_objection(
    session: Session,
    now: Now,
    caller: ChallengeReview,
    challenge_id: uuid.UUID,
    objection_id: uuid.UUID,
    body: ObjectionResolution,
) -> ObjectionOut:
    """Upheld, the award is revoked and the owner decides again; dismissed, the award stands
    once its period has ended and nothing else is open — then the deal opens."""
    objection = await awards.resolve_objection(
        session,
        caller,
        challenge_id,
        objection_id,
        upheld=body.upheld,
        resolution=body.resolution,
        now=now,
    )
    return objection_out(objection, challenge_id)


search_router = APIRouter(prefix="/v1/search", tags=["search"])


@search_router.get(
    "/challenges",
    response_model=ChallengeSearchPage,
    summary="Search the challenges (揭榜挂帅)",
    responses=problem_responses(422) | {429: {"description": "Rate limited"}},
    dependencies=[Depends(search_rate)],
    openapi_extra={"parameters": query_parameters(ChallengeSearchParameters)},
)
async def search_challenges(
    session: Session,
    now: Now,
    parameters: Annotated[
        ChallengeSearchParameters, Depends(query_model(ChallengeSearchParameters))
    ],
) -> ChallengeSearchPage:
    """Full-text search of the market's challenges (no login needed) with the listings'
    Chinese search — segmentation, synonyms, prefix matching of the last word — filters, facet
    counts and highlighted matches."""
    p = parameters
    query = ChallengeQuery(
        text=p.q.strip(),
        field=p.field,
        status=p.status,
        open_only=p.open,
        budget_band=p.budget,
        sort=p.sort,
        limit=p.limit,
    )
    fingerprint = query.fingerprint()
    offset = cursor_offset(fingerprint, p.cursor)
    answer = await challenge_search.search_challenges(
        session, replace(query, offset=offset), now=now
    )
    following = offset + len(answer.hits)
    return ChallengeSearchPage(
        hits=[
            ChallengeSearchHit(challenge=challenge_out(hit.challenge), highlights=hit.highlights)
            for hit in answer.hits
        ],
        total=answer.total,
        facets=answer.facets,
        next_cursor=(offset_cursor(fingerprint, following) if following < answer.total else None),
    )

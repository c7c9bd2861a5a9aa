"""HTTP routes of the challenges package (揭榜挂帅)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from app.challenges import proposals, service
from app.challenges.auth import ChallengeRead, ChallengeReview, ChallengeWrite
from app.challenges.models import Challenge, ChallengeState, Proposal
from app.challenges.schemas import (
    Attachment,
    ChallengeApproval,
    ChallengeCreate,
    ChallengeOut,
    ChallengeRejection,
    ChallengeTerms,
    Indicator,
    ProposalCreate,
    ProposalMilestoneOut,
    ProposalOut,
    ProposalTerms,
    TeamMember,
)
from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.money import Money, query_fen
from app.core.pagination import Page, PageParams, page_params

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
    field: Annotated[str | None, Query(description="A technology field and its children.")] = None,
    state: ChallengeState | None = None,
    budget_at_least: Annotated[
        str | None,
        Query(
            description="Yuan: a prize or budget top at least this much (open-ended budgets too).",
            examples=["500000"],
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

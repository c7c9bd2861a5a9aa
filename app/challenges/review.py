"""Expert review of a challenge's proposals (专家评审): reviewers name the experts, each expert
scores each proposal on the score sheet (`data/proposal_score_sheet.json`, a configurable
example) after the deadline, declaring no conflict of interest — never a proposal of their own
organization's. Scores stay blind: an expert sees only their own until every expert has scored
every proposal they may score; then the ranking is the weighted total's mean per proposal, ties
going to the lower price, then to the earlier proposal."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.challenges.models import (
    Challenge,
    ChallengeExpert,
    ChallengeState,
    Proposal,
    ProposalScore,
    ProposalState,
)
from app.challenges.proposals import get_proposal_for
from app.challenges.service import challenge_payload, get_challenge_for
from app.core.auth import PlatformRole, Principal
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.outbox import record_event
from app.core.score_sheets import ScoreSheet, load_score_sheet

DATA = Path(__file__).parent / "data" / "proposal_score_sheet.json"


@cache
def proposal_score_sheet() -> ScoreSheet:
    return load_score_sheet(DATA)


async def assign_expert(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    *,
    user_id: uuid.UUID,
    now: datetime,
) -> ChallengeExpert:
    """A platform reviewer names an expert (a person with an account) for a published
    challenge. Raises Forbidden, NotFound, InvalidState (not published), ValidationFailed
    (body.user_id) `unknown_user`, AlreadyExists(body.user_id)."""
    principal.require_platform_role(PlatformRole.reviewer)
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    if challenge.state != ChallengeState.published:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    if user_id not in await accounts.users_by_id(session, [user_id]):
        raise ValidationFailed("body.user_id", "unknown_user")
    expert = ChallengeExpert(
        challenge_id=challenge.id,
        user_id=user_id,
        assigned_by_id=principal.user_id,
        assigned_at=now,
    )
    session.add(expert)
    await session.flush()
    await record_event(session, "challenge.expert_assigned", challenge_payload(challenge))
    return expert


async def score_proposal(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    scores: Mapping[str, Decimal],
    *,
    no_conflict: bool,
    now: datetime,
) -> ProposalScore:
    """An expert of the challenge scores a submitted proposal once, after the deadline.
    Raises NotFound (not an expert of it), ValidationFailed: `proposals_still_open`
    (path.proposal_id), `conflict_of_interest` (path.proposal_id: their own organization's),
    `declaration_required` (body.no_conflict), the score sheet's errors (body.scores.<code>);
    AlreadyExists(path.proposal_id) for a second score."""
    proposal = await get_proposal_for(session, principal, proposal_id, now=now)
    expert = await _expert_of(session, proposal.challenge_id, principal.user_id)
    if expert is None or proposal.state != ProposalState.submitted:
        raise NotFound()
    challenge = await session.get(Challenge, proposal.challenge_id)
    assert challenge is not None
    if now < challenge.proposals_due_at:
        raise ValidationFailed("path.proposal_id", "proposals_still_open")
    if principal.is_member_of(proposal.organization_id):
        raise ValidationFailed("path.proposal_id", "conflict_of_interest")
    if not no_conflict:
        raise ValidationFailed("body.no_conflict", "declaration_required")
    sheet = proposal_score_sheet()
    total = sheet.total(scores).quantize(Decimal("0.01"))
    score = ProposalScore(
        proposal_id=proposal.id,
        expert_id=expert.id,
        sheet_version=sheet.version,
        scores={code: str(value) for code, value in scores.items()},
        total=total,
        declared_no_conflict=True,
        scored_at=now,
    )
    session.add(score)
    await session.flush()
    await record_event(
        session,
        "proposal.scored",
        {"proposal_id": str(proposal.id), "challenge_id": str(proposal.challenge_id)},
    )
    return score


@dataclass(frozen=True)
class Ranked:
    rank: int
    proposal: Proposal
    mean: Decimal
    """The mean of the experts' totals, two decimals (half-up)."""
    scores: list[ProposalScore]


async def ranking(
    session: AsyncSession, principal: Principal, challenge_id: uuid.UUID, *, now: datetime
) -> list[Ranked]:
    """The proposals ranked (`rank_proposals`), for the challenge's owner, its experts and
    staff. Raises NotFound, InvalidState `scoring_incomplete` until every score is in."""
    challenge = await get_challenge_for(session, principal, challenge_id)
    if not (
        principal.platform_roles
        or principal.is_member_of(challenge.organization_id)
        or await _expert_of(session, challenge.id, principal.user_id)
    ):
        raise NotFound()
    ranked = await rank_proposals(session, challenge, now=now)
    if ranked is None:
        raise InvalidState(detail_code="detail.scoring_incomplete")
    return ranked


async def rank_proposals(
    session: AsyncSession, challenge: Challenge, *, now: datetime
) -> list[Ranked] | None:
    """A challenge's submitted proposals ranked by the mean of their experts' totals (ties: the
    lower price, then the earlier proposal), with every score; None while scoring is incomplete
    — before the deadline, with no expert named, or while an expert owes a score on a proposal
    they may score (not their own organization's). No proposal at all ranks as an empty list."""
    if now < challenge.proposals_due_at:
        return None
    proposals = (
        await session.scalars(
            select(Proposal).where(
                Proposal.challenge_id == challenge.id, Proposal.state == ProposalState.submitted
            )
        )
    ).all()
    if not proposals:
        return []
    experts = (
        await session.scalars(
            select(ChallengeExpert).where(ChallengeExpert.challenge_id == challenge.id)
        )
    ).all()
    if not experts:
        return None
    scores = (
        await session.scalars(
            select(ProposalScore).where(ProposalScore.proposal_id.in_([p.id for p in proposals]))
        )
    ).all()
    memberships = await accounts.memberships_of(session, [e.user_id for e in experts])
    by_proposal: dict[uuid.UUID, list[ProposalScore]] = {p.id: [] for p in proposals}
    for score in scores:
        by_proposal[score.proposal_id].append(score)
    for proposal in proposals:
        owed = {
            e.id for e in experts if proposal.organization_id not in memberships.get(e.user_id, ())
        }
        scored = {score.expert_id for score in by_proposal[proposal.id]}
        if owed - scored or not scored:
            return None
    means = {
        p.id: (
            sum((s.total for s in by_proposal[p.id]), Decimal(0)) / len(by_proposal[p.id])
        ).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for p in proposals
    }
    ordered = sorted(
        proposals, key=lambda p: (-means[p.id], p.price_fen, p.submitted_at, str(p.id))
    )
    return [
        Ranked(rank, proposal, means[proposal.id], by_proposal[proposal.id])
        for rank, proposal in enumerate(ordered, start=1)
    ]


async def _expert_of(
    session: AsyncSession, challenge_id: uuid.UUID, user_id: uuid.UUID | None
) -> ChallengeExpert | None:
    if user_id is None:
        return None
    return await session.scalar(
        select(ChallengeExpert).where(
            ChallengeExpert.challenge_id == challenge_id, ChallengeExpert.user_id == user_id
        )
    )

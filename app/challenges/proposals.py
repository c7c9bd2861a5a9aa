"""Proposals to open challenges (揭榜): one per organization, before the deadline, editable
until then and withdrawable; private to the submitter, the challenge's owner once the deadline
has passed (so nobody tunes a proposal to another's), and platform staff."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import OrganizationKind, VerificationStatus
from app.challenges.models import (
    Challenge,
    ChallengeExpert,
    ChallengeState,
    Proposal,
    ProposalState,
)
from app.challenges.schemas import ProposalCreate, ProposalTerms
from app.challenges.service import get_challenge_for
from app.core.auth import Principal
from app.core.db import one_or_not_found
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.outbox import record_event
from app.results import queries as results

SOLVERS = frozenset(
    {OrganizationKind.university, OrganizationKind.research_institute, OrganizationKind.enterprise}
)
"""Who takes up a challenge (揭榜方): universities, institutes and enterprises."""


def _visible(principal: Principal, now: datetime) -> ColumnElement[bool]:
    if principal.platform_roles:
        return Proposal.id.is_not(None)
    mine = list(principal.memberships)
    owned_and_closed = (
        select(Challenge.id)
        .where(Challenge.organization_id.in_(mine), Challenge.proposals_due_at <= now)
        .scalar_subquery()
    )
    # Named experts read the submitted proposals once the deadline has passed, to score them.
    reviewed_and_closed = (
        select(ChallengeExpert.challenge_id)
        .join(Challenge, Challenge.id == ChallengeExpert.challenge_id)
        .where(ChallengeExpert.user_id == principal.user_id, Challenge.proposals_due_at <= now)
        .scalar_subquery()
    )
    return or_(
        Proposal.organization_id.in_(mine),
        and_(Proposal.challenge_id.in_(owned_and_closed), Proposal.state == ProposalState.submitted)
        if mine
        else false(),
        and_(
            Proposal.challenge_id.in_(reviewed_and_closed),
            Proposal.state == ProposalState.submitted,
        )
        if principal.user_id
        else false(),
    )


def _open(challenge: Challenge, now: datetime) -> None:
    if challenge.state != ChallengeState.published:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    if now >= challenge.proposals_due_at:
        raise ValidationFailed("path.challenge_id", "proposals_closed")


async def _apply(
    session: AsyncSession, proposal: Proposal, terms: ProposalTerms, organization_id: uuid.UUID
) -> None:
    found = await results.results_by_id(session, terms.result_ids)
    for index, result_id in enumerate(terms.result_ids):
        result = found.get(result_id)
        if result is None or result.organization_id != organization_id:
            raise ValidationFailed(f"body.result_ids.{index}", "not_your_result")
    proposal.approach = terms.approach
    proposal.team = [member.model_dump() for member in terms.team]
    proposal.schedule = terms.schedule
    proposal.milestones = [
        {"description": m.description, "due_on": m.due_on.isoformat(), "amount_fen": m.amount.fen}
        for m in terms.milestones
    ]
    proposal.price_fen = terms.price.fen
    proposal.result_ids = [str(result_id) for result_id in terms.result_ids]


def _payload(proposal: Proposal) -> dict[str, Any]:
    return {
        "proposal_id": str(proposal.id),
        "challenge_id": str(proposal.challenge_id),
        "organization_id": str(proposal.organization_id),
        "state": proposal.state.value,
    }


async def submit_proposal(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    data: ProposalCreate,
    *,
    now: datetime,
) -> Proposal:
    """A verified university, institute or enterprise (owner or admin) takes up a published
    challenge before its deadline, once. Raises NotFound, Forbidden, InvalidState (not
    published); ValidationFailed: `proposals_closed` (path.challenge_id), `own_challenge`,
    `not_a_solver`, `not_verified`, `outside_region` (body.organization_id — the challenge is
    open to its province only), `not_your_result` (body.result_ids.<i>); AlreadyExists
    (path.challenge_id) for a second proposal of the organization."""
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    _open(challenge, now)
    organization_id = principal.acting_for(data.organization_id)
    principal.require_manager(organization_id)
    if organization_id == challenge.organization_id:
        raise ValidationFailed("body.organization_id", "own_challenge")
    organizations = await accounts.organizations_by_id(
        session, [organization_id, challenge.organization_id]
    )
    solver, owner = organizations[organization_id], organizations[challenge.organization_id]
    if solver.kind not in SOLVERS:
        raise ValidationFailed("body.organization_id", "not_a_solver")
    if solver.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.organization_id", "not_verified")
    if not challenge.open_beyond_region and solver.division_code[:2] != owner.division_code[:2]:
        raise ValidationFailed("body.organization_id", "outside_region")
    proposal = Proposal(
        challenge_id=challenge.id,
        organization_id=organization_id,
        state=ProposalState.submitted,
        submitted_by_id=principal.user_id,
        submitted_at=now,
    )
    await _apply(session, proposal, data, organization_id)
    session.add(proposal)
    await session.flush()
    await record_event(session, "proposal.submitted", _payload(proposal))
    return proposal


async def get_proposal_for(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    *,
    now: datetime,
    lock: bool = False,
) -> Proposal:
    """A proposal the caller may see. Raises NotFound."""
    query = select(Proposal).where(Proposal.id == proposal_id, _visible(principal, now))
    return await one_or_not_found(session, query, lock=lock)


async def list_proposals(
    session: AsyncSession, principal: Principal, challenge_id: uuid.UUID, *, now: datetime
) -> Sequence[Proposal]:
    """A challenge's proposals the caller may see: its own; all submitted ones for the
    challenge's owner once the deadline has passed; all for staff. Raises NotFound."""
    challenge = await get_challenge_for(session, principal, challenge_id)
    rows = await session.scalars(
        select(Proposal)
        .where(Proposal.challenge_id == challenge.id, _visible(principal, now))
        .order_by(Proposal.submitted_at, Proposal.id)
    )
    return rows.all()


async def revise_proposal(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    terms: ProposalTerms,
    *,
    now: datetime,
) -> Proposal:
    """The submitter (owner or admin) changes its proposal before the deadline; a withdrawn
    one is submitted again. Raises NotFound, Forbidden, InvalidState, ValidationFailed
    (`proposals_closed`, `not_your_result`)."""
    proposal = await _own_while_open(session, principal, proposal_id, now=now)
    before = {"state": proposal.state}
    await _apply(session, proposal, terms, proposal.organization_id)
    proposal.state, proposal.withdrawn_at = ProposalState.submitted, None
    proposal.submitted_by_id, proposal.submitted_at = principal.user_id, now
    await record_event(session, "proposal.updated", _payload(proposal), before=before)
    return proposal


async def withdraw_proposal(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, *, now: datetime
) -> Proposal:
    """The submitter withdraws its proposal before the deadline. Raises NotFound, Forbidden,
    InvalidState (already withdrawn), ValidationFailed(`proposals_closed`)."""
    proposal = await _own_while_open(session, principal, proposal_id, now=now)
    if proposal.state == ProposalState.withdrawn:
        raise InvalidState(detail_code="detail.proposal_state", state=proposal.state.value)
    before = {"state": proposal.state}
    proposal.state, proposal.withdrawn_at = ProposalState.withdrawn, now
    await record_event(session, "proposal.withdrawn", _payload(proposal), before=before)
    return proposal


async def _own_while_open(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, *, now: datetime
) -> Proposal:
    """The caller's organization's proposal (owner or admin), its challenge still taking
    proposals."""
    proposal = await get_proposal_for(session, principal, proposal_id, now=now, lock=True)
    if not principal.is_member_of(proposal.organization_id):
        raise NotFound()
    principal.require_manager(proposal.organization_id)
    challenge = await session.get(Challenge, proposal.challenge_id)
    assert challenge is not None
    _open(challenge, now)
    return proposal

"""Rules of the challenges package: an enterprise's need made an open challenge (揭榜挂帅),
screened by platform reviewers and published for proposals.

A published challenge is public to the market; before that, and when refused, it is its
owner's and the reviewers' alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import VerificationStatus
from app.challenges.models import Challenge, ChallengeState
from app.challenges.schemas import ChallengeCreate, ChallengeTerms
from app.core.auth import PlatformRole, Principal
from app.core.clock import period_end
from app.core.db import one_or_not_found
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.demands.models import Demand, DemandState
from search.analysis import segment
from search.postgres import weighted_vector

PUBLIC_STATES = frozenset(
    {
        ChallengeState.published,
        ChallengeState.awarded,
        ChallengeState.concluded,
        ChallengeState.unawarded,
    }
)
"""A challenge is the market's from its publication on, its award and outcome too."""


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.platform_roles:
        return Challenge.id.is_not(None)
    return or_(
        Challenge.state.in_(PUBLIC_STATES),
        Challenge.organization_id.in_(list(principal.memberships)),
    )


def _apply_terms(
    challenge: Challenge, terms: ChallengeTerms, demand: Demand, owner_name: str
) -> None:
    challenge.title = terms.title or demand.title
    challenge.problem = terms.problem
    challenge.indicators = [indicator.model_dump() for indicator in terms.indicators]
    challenge.field_code = terms.field_code or demand.field_code
    challenge.budget_min_fen = terms.budget_min.fen if terms.budget_min else None
    challenge.budget_max_fen = terms.budget_max.fen if terms.budget_max else None
    challenge.prize_fen = terms.prize.fen if terms.prize else None
    challenge.proposals_due_at = terms.proposals_due_at
    challenge.open_beyond_region = terms.open_beyond_region
    challenge.attachments = [attachment.model_dump() for attachment in terms.attachments]
    indicators = " ".join(f"{i.name} {i.target}" for i in terms.indicators)
    challenge.terms = weighted_vector(
        *(
            (literal(" ".join(segment(text)), Text), weight)
            for text, weight in (
                (challenge.title, "A"),
                (indicators, "B"),
                (challenge.problem, "C"),
                (owner_name, "D"),
            )
        )
    )


def challenge_payload(challenge: Challenge) -> dict[str, Any]:
    """What every event about a challenge carries (its public events keep the public part)."""
    return {
        "challenge_id": str(challenge.id),
        "organization_id": str(challenge.organization_id),
        "title": challenge.title,
        "state": challenge.state.value,
    }


async def create_challenge(
    session: AsyncSession, principal: Principal, data: ChallengeCreate, *, now: datetime
) -> Challenge:
    """Turn the caller's organization's open demand into a challenge, submitted for screening
    (owner or admin of a verified enterprise). Raises NotFound (not the caller's demand),
    Forbidden (a plain member), ValidationFailed: `demand_closed` (body.demand_id),
    `not_verified` (body.demand_id), `deadline_passed` (body.proposals_due_at);
    AlreadyExists(body.demand_id) for a demand already made a challenge."""
    demand = await session.get(Demand, data.demand_id)
    if demand is None or not principal.is_member_of(demand.organization_id):
        raise NotFound()
    principal.require_manager(demand.organization_id)
    if demand.state != DemandState.open:
        raise ValidationFailed("body.demand_id", "demand_closed")
    owner = (await accounts.organizations_by_id(session, [demand.organization_id]))[
        demand.organization_id
    ]
    if owner.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.demand_id", "not_verified")
    if data.proposals_due_at <= now:
        raise ValidationFailed("body.proposals_due_at", "deadline_passed")
    challenge = Challenge(
        demand_id=demand.id,
        organization_id=demand.organization_id,
        state=ChallengeState.pending_review,
        submitted_by_id=principal.user_id,
        submitted_at=now,
    )
    _apply_terms(challenge, data, demand, owner.name)
    session.add(challenge)
    await session.flush()
    await record_event(session, "challenge.submitted", challenge_payload(challenge))
    return challenge


async def get_challenge_for(
    session: AsyncSession, principal: Principal, challenge_id: uuid.UUID, *, lock: bool = False
) -> Challenge:
    """A challenge the caller may see: published ones, its organization's, all for staff.
    Raises NotFound."""
    query = select(Challenge).where(Challenge.id == challenge_id, _visible(principal))
    return await one_or_not_found(session, query, lock=lock)


async def list_challenges(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    field: str | None = None,
    state: ChallengeState | None = None,
    budget_at_least: Money | None = None,
) -> tuple[Sequence[Challenge], str | None]:
    """Challenges the caller may see, newest first; by technology field (a field and its
    children), state, and money on offer (a prize or a budget's top at least this much)."""
    query = select(Challenge).where(_visible(principal))
    if field:
        query = query.where(
            (Challenge.field_code == field) | Challenge.field_code.startswith(field + ".")
        )
    if state is not None:
        query = query.where(Challenge.state == state)
    if budget_at_least is not None:
        query = query.where(
            or_(
                Challenge.prize_fen >= budget_at_least.fen,
                Challenge.budget_max_fen >= budget_at_least.fen,
                (Challenge.budget_max_fen.is_(None)) & (Challenge.prize_fen.is_(None)),
            )
        )
    return await paginate(session, query, params, key=Challenge.submitted_at, row_id=Challenge.id)


async def revise_challenge(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    terms: ChallengeTerms,
    *,
    now: datetime,
) -> Challenge:
    """The owner (owner or admin) corrects a challenge awaiting screening or refused; a refused
    one goes back to the reviewers. Raises NotFound, Forbidden, InvalidState (published),
    ValidationFailed(proposals_due_at) `deadline_passed`."""
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    principal.require_manager(challenge.organization_id)
    if challenge.state in PUBLIC_STATES:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    if terms.proposals_due_at <= now:
        raise ValidationFailed("body.proposals_due_at", "deadline_passed")
    demand = await session.get(Demand, challenge.demand_id)
    assert demand is not None
    owner = (await accounts.organizations_by_id(session, [challenge.organization_id]))[
        challenge.organization_id
    ]
    before = {"state": challenge.state}
    _apply_terms(challenge, terms, demand, owner.name)
    challenge.state = ChallengeState.pending_review
    challenge.rejection_reasons = None
    challenge.submitted_by_id, challenge.submitted_at = principal.user_id, now
    await record_event(session, "challenge.submitted", challenge_payload(challenge), before=before)
    return challenge


async def review_challenge(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    *,
    window_days: int | None,
    reasons: Sequence[str] = (),
    now: datetime,
) -> Challenge:
    """A platform reviewer screens a submitted challenge: publishes it with a publication window
    (`window_days`) — the call must stay open at least through it — or refuses it with
    reasons (`window_days` None). Raises Forbidden, NotFound, InvalidState (not awaiting
    screening), ValidationFailed: `deadline_within_window` (body.window_days), `missing`
    (body.reasons)."""
    principal.require_platform_role(PlatformRole.reviewer)
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    if challenge.state != ChallengeState.pending_review:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    before = {"state": challenge.state}
    challenge.reviewed_by_id, challenge.reviewed_at = principal.user_id, now
    if window_days is None:
        if not reasons:
            raise ValidationFailed("body.reasons", "missing")
        challenge.state = ChallengeState.rejected
        challenge.rejection_reasons = list(reasons)
        await record_event(
            session,
            "challenge.rejected",
            {**challenge_payload(challenge), "reasons": list(reasons)},
            before=before,
        )
        return challenge
    if challenge.proposals_due_at < period_end(now, window_days):
        raise ValidationFailed("body.window_days", "deadline_within_window")
    challenge.state = ChallengeState.published
    challenge.published_at, challenge.window_days = now, window_days
    await record_event(
        session,
        "challenge.published",
        {
            **challenge_payload(challenge),
            "field_code": challenge.field_code,
            **{
                name: None if fen is None else Money(fen).to_api()
                for name, fen in (
                    ("budget_min", challenge.budget_min_fen),
                    ("budget_max", challenge.budget_max_fen),
                    ("prize", challenge.prize_fen),
                )
            },
            "proposals_due_at": challenge.proposals_due_at.isoformat(),
        },
        before=before,
    )
    return challenge

"""Award and publicity (揭榜结果与公示): once the experts' ranking is complete the owner picks a
ranked proposal, or declares none suitable with a reason (流榜). An award is public for a
publicity period of working days (`data/award_publicity.json`, a configurable example); any
other organization may object during it, and platform staff decide each objection — one upheld
revokes the award and the owner decides again. When the period has ended with no objection
open, the award stands: a deal opens between the owner (buyer) and the winner (seller) with a
draft development contract (技术开发) written from the proposal's price and milestones, and from
there the contract, registration, payment, reward and tax flows run as for any deal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.challenges.models import (
    Award,
    AwardState,
    Challenge,
    ChallengeState,
    Objection,
    ObjectionState,
    Proposal,
)
from app.challenges.review import rank_proposals
from app.challenges.schemas import AwardDecision, ObjectionCreate
from app.challenges.service import challenge_payload, get_challenge_for
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date
from app.core.db import one_or_not_found
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.core.working_days import working_period_end
from app.deals import service as deals
from app.deals.models import ContractSubtype, ContractType, DealSource
from app.deals.schemas import ContractTerms, MilestoneIn

DATA = Path(__file__).parent / "data" / "award_publicity.json"


@dataclass(frozen=True)
class PublicityRule:
    """How long an award is public before it stands (公示期), in working days."""

    working_days: int
    source: str
    example: bool


@dataclass(frozen=True)
class AwardView:
    """An award with its winning proposal, and its deal where the caller may see it."""

    award: Award
    proposal: Proposal | None
    deal_id: uuid.UUID | None


@cache
def publicity_rule() -> PublicityRule:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    rule = PublicityRule(int(data["working_days"]), str(data["source"]), bool(data["example"]))
    if rule.working_days < 1:
        raise ValueError(f"{DATA.name}: a publicity period lasts at least one working day")
    return rule


async def award_challenge(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    decision: AwardDecision,
    *,
    now: datetime,
) -> AwardView:
    """The owner (owner or admin) decides a challenge whose ranking is complete: a ranked
    proposal wins and the award goes into publicity, or none is suitable and the challenge
    closes unawarded. Raises NotFound, Forbidden, InvalidState (not awaiting a decision),
    ValidationFailed: `proposals_still_open` (path.challenge_id), `scoring_incomplete` and
    `not_ranked` (body.proposal_id), `missing` (body.reason, when none is suitable)."""
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    principal.require_manager(challenge.organization_id)
    if challenge.state != ChallengeState.published:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    if now < challenge.proposals_due_at:
        raise ValidationFailed("path.challenge_id", "proposals_still_open")
    ranked = await rank_proposals(session, challenge, now=now)
    if ranked is None:
        raise ValidationFailed("body.proposal_id", "scoring_incomplete")
    before = {"state": challenge.state}
    award = Award(
        challenge_id=challenge.id,
        proposal_id=decision.proposal_id,
        reason=decision.reason,
        decided_by_id=principal.user_id,
        decided_at=now,
    )
    if decision.proposal_id is None:
        if not decision.reason:
            raise ValidationFailed("body.reason", "missing")
        award.state, award.confirmed_at = AwardState.confirmed, now
        challenge.state = ChallengeState.unawarded
        session.add(award)
        await session.flush()
        await record_event(
            session,
            "challenge.closed",
            {**challenge_payload(challenge), "outcome": "unawarded", "reason": decision.reason},
            before=before,
        )
        return AwardView(award, None, None)
    winner = next((r for r in ranked if r.proposal.id == decision.proposal_id), None)
    if winner is None:
        raise ValidationFailed("body.proposal_id", "not_ranked")
    rule = publicity_rule()
    award.state = AwardState.publicity
    award.publicity_working_days = rule.working_days
    award.publicity_ends_at = working_period_end(now, rule.working_days)
    challenge.state = ChallengeState.awarded
    session.add(award)
    await session.flush()
    await record_event(
        session,
        "challenge.awarded",
        {
            **challenge_payload(challenge),
            "award_id": str(award.id),
            "proposal_id": str(winner.proposal.id),
            "winner_organization_id": str(winner.proposal.organization_id),
            "rank": winner.rank,
            "price": Money(winner.proposal.price_fen).to_api(),
            "publicity_ends_at": award.publicity_ends_at.isoformat(),
        },
        before=before,
    )
    return AwardView(award, winner.proposal, None)


async def get_award_for(
    session: AsyncSession, principal: Principal, challenge_id: uuid.UUID
) -> AwardView:
    """The standing award of a challenge the caller may see: public, as its publicity is; its
    deal only for the two parties and staff. Raises NotFound (no decision yet)."""
    challenge = await get_challenge_for(session, principal, challenge_id)
    award = await _standing(session, challenge.id)
    if award is None:
        raise NotFound()
    proposal = await session.get(Proposal, award.proposal_id) if award.proposal_id else None
    parties = {challenge.organization_id, *([proposal.organization_id] if proposal else [])}
    sees_deal = bool(principal.platform_roles) or any(map(principal.is_member_of, parties))
    return AwardView(award, proposal, award.deal_id if sees_deal else None)


async def file_objection(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    data: ObjectionCreate,
    *,
    now: datetime,
) -> Objection:
    """An organization's owner or admin objects to an award during its publicity period, once
    per award. Raises NotFound, Forbidden, InvalidState (no award in publicity),
    ValidationFailed: `publicity_over` (path.challenge_id), `own_challenge`
    (body.organization_id); AlreadyExists(path.challenge_id) for a second objection."""
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    award = await _standing(session, challenge.id)
    if award is None or award.proposal_id is None:
        raise InvalidState(detail_code="detail.challenge_state", state=challenge.state.value)
    assert award.publicity_ends_at is not None
    if award.state != AwardState.publicity or now >= award.publicity_ends_at:
        raise ValidationFailed(
            "path.challenge_id", "publicity_over", ended_at=award.publicity_ends_at.isoformat()
        )
    organization_id = principal.acting_for(data.organization_id)
    principal.require_manager(organization_id)
    if organization_id == challenge.organization_id:
        raise ValidationFailed("body.organization_id", "own_challenge")
    objection = Objection(
        award_id=award.id,
        organization_id=organization_id,
        filed_by_id=principal.user_id,
        grounds=data.grounds,
        filed_at=now,
        state=ObjectionState.open,
    )
    session.add(objection)
    await session.flush()
    await record_event(
        session, "challenge.objection_filed", _objection_payload(objection, challenge)
    )
    return objection


async def list_objections(
    session: AsyncSession, principal: Principal, challenge_id: uuid.UUID
) -> Sequence[tuple[Objection, uuid.UUID]]:
    """The objections to a challenge's awards (revoked ones' too), oldest first, with the
    challenge's id: all for its owner and staff, an objector's own for everyone else. Raises
    NotFound."""
    challenge = await get_challenge_for(session, principal, challenge_id)
    query = (
        select(Objection)
        .join(Award, Award.id == Objection.award_id)
        .where(Award.challenge_id == challenge.id)
        .order_by(Objection.filed_at, Objection.id)
    )
    if not (principal.platform_roles or principal.is_member_of(challenge.organization_id)):
        query = query.where(Objection.organization_id.in_(list(principal.memberships)))
    return [(objection, challenge.id) for objection in (await session.scalars(query)).all()]


async def resolve_objection(
    session: AsyncSession,
    principal: Principal,
    challenge_id: uuid.UUID,
    objection_id: uuid.UUID,
    *,
    upheld: bool,
    resolution: str,
    now: datetime,
) -> Objection:
    """A platform reviewer decides an open objection. Upheld, the award is revoked (the other
    open objections with it) and the challenge awaits the owner's decision again; dismissed
    after the period has ended with nothing else open, the award stands and the deal opens.
    Raises Forbidden, NotFound, InvalidState (already decided)."""
    principal.require_platform_role(PlatformRole.reviewer)
    challenge = await get_challenge_for(session, principal, challenge_id, lock=True)
    objection = await one_or_not_found(
        session,
        select(Objection)
        .join(Award, Award.id == Objection.award_id)
        .where(Objection.id == objection_id, Award.challenge_id == challenge.id),
        lock=True,
    )
    if objection.state != ObjectionState.open:
        raise InvalidState(detail_code="detail.objection_state", state=objection.state.value)
    award = await session.get(Award, objection.award_id, with_for_update=True)
    assert award is not None
    objection.state = ObjectionState.upheld if upheld else ObjectionState.dismissed
    objection.resolution = resolution
    objection.resolved_by_id, objection.resolved_at = principal.user_id, now
    await session.flush()
    await record_event(
        session,
        "challenge.objection_resolved",
        {**_objection_payload(objection, challenge), "upheld": upheld},
    )
    if upheld:
        for other in await _open_objections(session, award.id):
            other.state, other.resolved_at = ObjectionState.superseded, now
        award.state, award.revoked_at = AwardState.revoked, now
        before = {"state": challenge.state}
        challenge.state = ChallengeState.published
        await session.flush()
        await record_event(
            session,
            "challenge.award_revoked",
            {
                **challenge_payload(challenge),
                "proposal_id": str(award.proposal_id),
                "outcome": "revoked",
            },
            before=before,
        )
    else:
        await _confirm_if_due(session, challenge, award, now=now)
    return objection


async def due_awards(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Awards whose publicity has ended with no objection open."""
    rows = await session.scalars(
        select(Award.id).where(
            Award.state == AwardState.publicity,
            Award.publicity_ends_at <= now,
            ~exists().where(Objection.award_id == Award.id, Objection.state == ObjectionState.open),
        )
    )
    return list(rows.all())


async def next_publicity_end(session: AsyncSession, after: datetime) -> datetime | None:
    """The first end of an award's publicity after `after` (for the sandbox clock's steps)."""
    ends: datetime | None = await session.scalar(
        select(func.min(Award.publicity_ends_at)).where(
            Award.state == AwardState.publicity, Award.publicity_ends_at > after
        )
    )
    return ends


async def confirm_award(session: AsyncSession, award_id: uuid.UUID, *, now: datetime) -> bool:
    """Let an award stand if its publicity has ended with no objection open: the deal opens.
    Safe to run twice. Returns whether it stood now."""
    challenge_id = await session.scalar(select(Award.challenge_id).where(Award.id == award_id))
    if challenge_id is None:
        return False
    challenge = await session.get(Challenge, challenge_id, with_for_update=True)
    award = await session.get(Award, award_id, with_for_update=True, populate_existing=True)
    assert challenge is not None
    assert award is not None
    return await _confirm_if_due(session, challenge, award, now=now)


def development_terms(challenge: Challenge, proposal: Proposal, *, now: datetime) -> ContractTerms:
    """The draft development contract of a won challenge: the enterprise commissions the winner
    (委托开发, 民法典 第八百五十一条) to reach the challenge's indicators for the proposal's price,
    paid by its milestones; the whole price is technology-transaction amount until the parties
    price equipment or materials apart."""
    starts_on = beijing_date(now)
    due = [date.fromisoformat(m["due_on"]) for m in proposal.milestones]
    content = f"{challenge.problem}\n\n{proposal.approach}"[:20000]
    return ContractTerms(
        contract_type=ContractType.development,
        subtype=ContractSubtype.commissioned_development,
        subject=challenge.title,
        technology_field=challenge.field_code,
        total=Money(proposal.price_fen),
        transaction_amount=Money(proposal.price_fen),
        starts_on=starts_on,
        ends_on=max([starts_on, *due]),
        content=content if len(content) >= 20 else None,
        milestones=[
            MilestoneIn(
                amount=Money(int(m["amount_fen"])),
                due_on=date.fromisoformat(m["due_on"]),
                description=m["description"],
            )
            for m in proposal.milestones
        ],
    )


async def _confirm_if_due(
    session: AsyncSession, challenge: Challenge, award: Award, *, now: datetime
) -> bool:
    if (
        award.state != AwardState.publicity
        or award.publicity_ends_at is None
        or now < award.publicity_ends_at
        or await _open_objections(session, award.id)
    ):
        return False
    proposal = await session.get(Proposal, award.proposal_id)
    assert proposal is not None
    deal = await deals.open_deal(
        session,
        source=DealSource.challenge,
        listing_id=None,
        seller_organization_id=proposal.organization_id,
        buyer_organization_id=challenge.organization_id,
        price=Money(proposal.price_fen),
        now=now,
    )
    await deals.prefill_contract(
        session, deal, development_terms(challenge, proposal, now=now), now=now
    )
    before = {"state": challenge.state}
    award.state, award.confirmed_at, award.deal_id = AwardState.confirmed, now, deal.id
    challenge.state = ChallengeState.concluded
    await session.flush()
    await record_event(
        session,
        "challenge.concluded",
        {
            **challenge_payload(challenge),
            "outcome": "concluded",
            "proposal_id": str(proposal.id),
            "winner_organization_id": str(proposal.organization_id),
            "deal_id": str(deal.id),
        },
        before=before,
    )
    return True


async def _standing(session: AsyncSession, challenge_id: uuid.UUID) -> Award | None:
    return await session.scalar(
        select(Award).where(Award.challenge_id == challenge_id, Award.state != AwardState.revoked)
    )


async def _open_objections(session: AsyncSession, award_id: uuid.UUID) -> list[Objection]:
    rows = await session.scalars(
        select(Objection).where(
            Objection.award_id == award_id, Objection.state == ObjectionState.open
        )
    )
    return list(rows.all())


def _objection_payload(objection: Objection, challenge: Challenge) -> dict[str, Any]:
    return {
        "objection_id": str(objection.id),
        "challenge_id": str(challenge.id),
        "organization_id": str(objection.organization_id),
        "owner_organization_id": str(challenge.organization_id),
        "state": objection.state.value,
    }

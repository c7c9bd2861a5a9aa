"""Reads of the challenges package that other packages may use (below its service)."""

from __future__ import annotations

from sqlalchemy import Uuid, literal, null, select, union_all
from sqlalchemy.sql import Subquery

from app.challenges.models import (
    Award,
    AwardState,
    Challenge,
    Proposal,
    ProposalState,
)


def funnel_steps() -> Subquery:
    """The read model of the challenge funnel (揭榜挂帅) for statistics, one row per step a
    challenge took: `stage` — `collected` (a need submitted as a challenge), `published`,
    `proposal` (one standing, not withdrawn), `awarded` (an award that stood, with its
    `deal_id`) — `at` (when), `field_code` and `organization_id` (the challenge's owner)."""
    no_deal = null().cast(Uuid).label("deal_id")
    collected = select(
        literal("collected").label("stage"),
        Challenge.created_at.label("at"),
        Challenge.field_code,
        Challenge.organization_id,
        no_deal,
    )
    published = select(
        literal("published"),
        Challenge.published_at,
        Challenge.field_code,
        Challenge.organization_id,
        no_deal,
    ).where(Challenge.published_at.is_not(None))
    proposals = (
        select(
            literal("proposal"),
            Proposal.submitted_at,
            Challenge.field_code,
            Challenge.organization_id,
            no_deal,
        )
        .join(Challenge, Challenge.id == Proposal.challenge_id)
        .where(Proposal.state == ProposalState.submitted)
    )
    awarded = (
        select(
            literal("awarded"),
            Award.confirmed_at,
            Challenge.field_code,
            Challenge.organization_id,
            Award.deal_id,
        )
        .join(Challenge, Challenge.id == Award.challenge_id)
        .where(Award.state == AwardState.confirmed, Award.proposal_id.is_not(None))
    )
    return union_all(collected, published, proposals, awarded).subquery("challenge_funnel")

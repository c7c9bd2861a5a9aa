"""Tables of the challenges package: open challenges (揭榜挂帅) made from enterprises' needs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import text

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum
from app.core.errors import register_unique_field


class ChallengeState(StrEnum):
    pending_review = "pending_review"  # 待审核 (screening, 征集筛选)
    rejected = "rejected"  # 未通过 (with reasons; the owner may correct and submit again)
    published = "published"  # 发榜 (open for proposals until the deadline, then scored)
    awarded = "awarded"  # 结果公示: the award is public for its publicity period and objections
    concluded = "concluded"  # 已签约: the award stood; a deal is open with the winner
    unawarded = "unawarded"  # 流榜: the owner found no proposal suitable, and said why


class Challenge(IdMixin, TimestampMixin, Base):
    """An open challenge (揭榜挂帅): an enterprise's need published with the indicators a
    solution must reach, a budget or a prize, and a deadline for proposals."""

    __tablename__ = "challenges"

    demand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("demands.id"), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """The technical indicators to reach (指标): [{"name": "…", "target": "…"}, …]."""
    field_code: Mapped[str] = mapped_column(String(60))
    budget_min_fen: Mapped[int | None] = mapped_column(BigInteger)
    budget_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    prize_fen: Mapped[int | None] = mapped_column(BigInteger)
    """A fixed prize instead of a budget range."""
    proposals_due_at: Mapped[datetime]
    open_beyond_region: Mapped[bool]
    """Whether organizations outside the owner's province may submit proposals."""
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """Descriptions of the attachments: [{"title": "…", "description": "…"}, …]."""
    state: Mapped[ChallengeState] = mapped_column(pg_enum(ChallengeState, "challenge_state"))
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    rejection_reasons: Mapped[list[str] | None] = mapped_column(JSONB)
    published_at: Mapped[datetime | None]
    window_days: Mapped[int | None]
    """The publication window the reviewer set (公示/发榜期, days, Beijing)."""
    terms: Mapped[Any] = mapped_column(TSVECTOR, deferred=True, server_default=text("''::tsvector"))
    """What search finds it by: the segmented title (A), indicators (B), problem (C) and owner's
    name (D), written with its terms (`search.analysis`, the listings' Chinese search)."""

    __table_args__ = (
        Index("ix_challenges_terms", "terms", postgresql_using="gin"),
        CheckConstraint(
            "(prize_fen IS NULL) <> (budget_min_fen IS NULL AND budget_max_fen IS NULL)",
            name="budget_or_prize",
        ),
        CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name="budget_range",
        ),
        CheckConstraint("prize_fen IS NULL OR prize_fen > 0", name="prize_positive"),
        CheckConstraint(
            "state <> 'published' OR published_at IS NOT NULL", name="published_has_a_day"
        ),
    )


class ProposalState(StrEnum):
    submitted = "submitted"  # 已揭榜 (editable until the deadline)
    withdrawn = "withdrawn"  # 已撤回


class Proposal(IdMixin, TimestampMixin, Base):
    """A proposal (揭榜方案) an organization submits to a published challenge: its approach,
    team, schedule with milestones, price, and the results it builds on. Private to its
    submitter, the challenge's owner (after the deadline only) and platform staff."""

    __tablename__ = "challenge_proposals"

    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenges.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    approach: Mapped[str] = mapped_column(Text)
    team: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """[{"name": "…", "role": "…"}, …]"""
    schedule: Mapped[str] = mapped_column(Text)
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """[{"description": "…", "due_on": "YYYY-MM-DD", "amount_fen": n}, …], adding up to the
    price: a development contract's milestones if the proposal wins."""
    price_fen: Mapped[int] = mapped_column(BigInteger)
    result_ids: Mapped[list[str]] = mapped_column(JSONB)
    """The submitter's own results (科技成果) the proposal builds on."""
    state: Mapped[ProposalState] = mapped_column(pg_enum(ProposalState, "proposal_state"))
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("challenge_id", "organization_id"),
        CheckConstraint("price_fen > 0", name="price_positive"),
    )


register_unique_field("uq_challenge_proposals_challenge_id_organization_id", "path.challenge_id")
register_unique_field("uq_challenges_demand_id", "body.demand_id")


class ChallengeExpert(IdMixin, Base):
    """An expert a platform reviewer named to score a challenge's proposals (专家评审): platform
    staff or an outside expert with an account of their own."""

    __tablename__ = "challenge_experts"

    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenges.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)


class ProposalScore(IdMixin, Base):
    """One expert's scores of one proposal on the score sheet of `sheet_version`, with the
    expert's declaration that they have no conflict of interest in it (利益冲突声明)."""

    __tablename__ = "proposal_scores"

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenge_proposals.id"), index=True)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenge_experts.id"))
    sheet_version: Mapped[int]
    scores: Mapped[dict[str, str]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    declared_no_conflict: Mapped[bool]
    scored_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("proposal_id", "expert_id"),
        CheckConstraint("total >= 0 AND total <= 100", name="total_range"),
        CheckConstraint("declared_no_conflict", name="declared"),
    )


register_unique_field("uq_challenge_experts_challenge_id_user_id", "body.user_id")
register_unique_field("uq_proposal_scores_proposal_id_expert_id", "path.proposal_id")


class AwardState(StrEnum):
    publicity = "publicity"  # 公示中: objections may be filed until the period ends
    confirmed = "confirmed"  # the period ended with no objection standing (or none suitable)
    revoked = "revoked"  # an objection was upheld: the owner decides again


class Award(IdMixin, Base):
    """The owner's decision on a challenge (揭榜结果): the winning proposal, published for a
    publicity period (公示) before a deal opens with the winner — or no proposal suitable, with
    the reason (流榜). A revoked award stays on record; one stands at a time."""

    __tablename__ = "challenge_awards"

    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenges.id"), index=True)
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("challenge_proposals.id"))
    """The winning proposal; None when no proposal was suitable."""
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[AwardState] = mapped_column(pg_enum(AwardState, "award_state"))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]
    publicity_working_days: Mapped[int | None]
    publicity_ends_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id"), unique=True)
    """The deal opened with the winner when the award was confirmed."""

    __table_args__ = (
        CheckConstraint("proposal_id IS NOT NULL OR reason IS NOT NULL", name="winner_or_reason"),
        CheckConstraint(
            "(proposal_id IS NULL) = (publicity_ends_at IS NULL)", name="publicity_of_a_winner"
        ),
        CheckConstraint(
            "state <> 'confirmed' OR proposal_id IS NULL OR deal_id IS NOT NULL",
            name="confirmed_has_a_deal",
        ),
        # One award stands per challenge; revoked ones are history.
        Index(
            "uq_challenge_awards_standing",
            "challenge_id",
            unique=True,
            postgresql_where=text("state <> 'revoked'"),
        ),
    )


class ObjectionState(StrEnum):
    open = "open"
    upheld = "upheld"  # 异议成立: the award is revoked
    dismissed = "dismissed"  # 异议不成立
    superseded = "superseded"  # the award fell on another objection before this was decided


class Objection(IdMixin, Base):
    """An objection (异议) an organization files against an award during its publicity period,
    decided by platform staff. Private to the objector, the challenge's owner and staff."""

    __tablename__ = "award_objections"

    award_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("challenge_awards.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    filed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    grounds: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime]
    state: Mapped[ObjectionState] = mapped_column(pg_enum(ObjectionState, "objection_state"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("award_id", "organization_id"),
        CheckConstraint("(state = 'open') = (resolved_at IS NULL)", name="resolved_when_decided"),
    )


register_unique_field("uq_challenge_awards_standing", "path.challenge_id")
register_unique_field("uq_award_objections_award_id_organization_id", "path.challenge_id")

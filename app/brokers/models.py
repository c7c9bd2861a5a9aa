"""Tables of the brokers package: reward claims, reward entries and reward payouts."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum
from app.core.errors import register_unique_field


class ClaimKind(StrEnum):
    broker = "broker"  # a broker's attribution (促成) of a deal
    party = "party"  # a buyer's or seller's post-subsidy application (技术交易后补助)
    agency = "agency"  # a transfer agency's post-subsidy of a year (服务方后补助)
    agency_share = "agency_share"  # the part an agency passes to one of its brokers


class BrokerRole(StrEnum):
    sourcing = "sourcing"  # 项目挖掘
    matching = "matching"  # 供需对接
    negotiation = "negotiation"  # 商务谈判
    drafting = "drafting"  # 合同起草


class ClaimState(StrEnum):
    pending = "pending"  # awaiting a party's confirmation (broker claims)
    confirmed = "confirmed"
    disputed = "disputed"
    approved = "approved"
    rejected = "rejected"


class Claim(IdMixin, Base):
    """A claim to a reward under a policy: on one deal's registered contract (brokers and
    parties), or on a transfer agency's year of brokered contracts (agencies: no deal)."""

    __tablename__ = "reward_claims"

    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id"), index=True)
    kind: Mapped[ClaimKind] = mapped_column(pg_enum(ClaimKind, "claim_kind"))
    policy_code: Mapped[str] = mapped_column(String(60))
    policy_year: Mapped[int]
    """The year of the contract's registration (Beijing time): the year caps count in; for an
    agency, the year of service it claims for."""
    broker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("broker_profiles.id"))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    """The broker's transfer agency when the claim was filed (its year cap)."""
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    """The applying party (party claims) or transfer agency (agency claims)."""
    role: Mapped[BrokerRole | None] = mapped_column(pg_enum(BrokerRole, "broker_role"))
    share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    """Of the contract's reward (brokers), or of the agency's subsidy (an agency's share)."""
    agency_claim_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reward_claims.id"), index=True
    )
    """An agency's share: the agency's claim it is a part of (机构提取一定比例奖励技术经纪人)."""
    state: Mapped[ClaimState] = mapped_column(pg_enum(ClaimState, "claim_state"))
    filed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]
    dispute_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        # An agency's share may fall to 0: the broker left the split, their reward follows.
        CheckConstraint(
            "share_percent >= 0 AND share_percent <= 100"
            " AND (share_percent > 0 OR kind = 'agency_share')",
            name="share_range",
        ),
        CheckConstraint(
            "(kind = 'broker') = (role IS NOT NULL)"
            " AND (kind IN ('broker', 'agency_share')) = (broker_id IS NOT NULL)"
            " AND (kind IN ('party', 'agency')) = (organization_id IS NOT NULL)"
            " AND (kind IN ('agency', 'agency_share')) = (deal_id IS NULL)"
            " AND (kind = 'agency_share') = (agency_claim_id IS NOT NULL)",
            name="claimant_by_kind",
        ),
        # One share per broker of an agency's claim.
        Index(
            "uq_reward_claims_agency_share",
            "agency_claim_id",
            "broker_id",
            unique=True,
            postgresql_where=text("kind = 'agency_share'"),
        ),
        # One application per agency per policy and year of service.
        Index(
            "uq_reward_claims_agency_application",
            "organization_id",
            "policy_code",
            "policy_year",
            unique=True,
            postgresql_where=text("kind = 'agency'"),
        ),
        # One application per party per contract per policy year.
        Index(
            "uq_reward_claims_party_application",
            "deal_id",
            "organization_id",
            "policy_code",
            "policy_year",
            unique=True,
            postgresql_where=text("kind = 'party'"),
        ),
        # A broker claims a deal once (a rejected claim may be filed again).
        Index(
            "uq_reward_claims_broker_deal",
            "deal_id",
            "broker_id",
            unique=True,
            postgresql_where=text("kind = 'broker' AND state <> 'rejected'"),
        ),
    )


class RewardEntry(IdMixin, Base):
    """One step of a claim's reward: the first computation, then an adjustment whenever a
    recomputation gives another amount. Entries are never rewritten, so a paid reward stays
    paid; the reward is the sum of its entries."""

    __tablename__ = "reward_entries"

    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reward_claims.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    """The change this entry makes (negative for a downward adjustment)."""
    total_fen: Mapped[int] = mapped_column(BigInteger)
    """The reward after this entry."""
    policy_code: Mapped[str] = mapped_column(String(60))
    policy_version: Mapped[int]
    working: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime]
    payout_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reward_payouts.id"), index=True)


class RewardPayout(IdMixin, Base):
    """Rewards of one beneficiary and period, paid together."""

    __tablename__ = "reward_payouts"

    period: Mapped[str] = mapped_column(String(7))
    """YYYY-MM: entries computed up to the end of this month (Beijing time)."""
    broker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("broker_profiles.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str] = mapped_column(String(100), unique=True)
    paid_at: Mapped[datetime]
    paid_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("(broker_id IS NULL) <> (organization_id IS NULL)", name="one_payee"),
    )


class AgencyEvaluation(IdMixin, Base):
    """A transfer agency's yearly evaluation (年度绩效评价): the reviewers' scores on the score
    sheet of `sheet_version`, their total and whether it passed, and the service indicators the
    reviewers had before them (kept as they were, so a later registration does not rewrite the
    record). A re-evaluation replaces the scores; the outbox keeps the earlier ones."""

    __tablename__ = "agency_evaluations"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    year: Mapped[int]
    sheet_version: Mapped[int]
    scores: Mapped[dict[str, str]] = mapped_column(JSONB)
    """Criterion code → score, decimal strings."""
    total: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    passed: Mapped[bool]
    indicators: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(String(500))
    evaluated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    evaluated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("organization_id", "year"),
        CheckConstraint("total >= 0 AND total <= 100", name="total_range"),
    )


register_unique_field("uq_reward_claims_party_application", "body.deal_id")
register_unique_field("uq_reward_claims_broker_deal", "body.deal_id")
register_unique_field("uq_reward_claims_agency_application", "body.year")

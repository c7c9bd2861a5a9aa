"""Tables of the payments package: payments for deals, payouts, and the double-entry ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum


class PaymentState(StrEnum):
    pending = "pending"  # instructions given, money not yet seen
    received = "received"
    cancelled = "cancelled"
    refunded = "refunded"


class PaymentKind(StrEnum):
    milestone = "milestone"  # the buyer pays a contract milestone (付款节点)
    deposit = "deposit"  # the auction winner's deposit applied to the price (保证金转价款)


class Payment(IdMixin, Base):
    """Money a contract received: a buyer's payment of a milestone (付款节点), or the winner's
    auction deposit applied to the price — which the seller has received as surely."""

    __tablename__ = "payments"

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id"), index=True)
    kind: Mapped[PaymentKind] = mapped_column(
        pg_enum(PaymentKind, "payment_kind"),
        default=PaymentKind.milestone,
        server_default=PaymentKind.milestone.value,
    )
    milestone: Mapped[int | None]
    """The milestone paid; none for an applied deposit (it credits the first milestones)."""
    payer_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[PaymentState] = mapped_column(
        pg_enum(PaymentState, "payment_state"), default=PaymentState.pending
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str] = mapped_column(String(100), unique=True)
    instructions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    refunded_at: Mapped[datetime | None]
    refund_reference: Mapped[str | None] = mapped_column(String(100))
    refund_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "(kind = 'milestone') = (milestone IS NOT NULL)", name="milestone_iff_paid"
        ),
    )


class Payout(IdMixin, Base):
    """Money the platform passes on to a deal's seller."""

    __tablename__ = "payouts"

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id"), index=True)
    recipient_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str] = mapped_column(String(100), unique=True)
    paid_at: Mapped[datetime]
    paid_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)


class LedgerEntry(Base):
    """One line of a journal in the double-entry ledger: debits positive, credits negative.

    The lines of a journal sum to zero — a deferred constraint trigger checks it at commit, and
    another refuses UPDATE and DELETE: the ledger is only ever added to.
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    journal_id: Mapped[uuid.UUID] = mapped_column(index=True)
    account: Mapped[str] = mapped_column(String(120), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id"), index=True)
    memo: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]

    __table_args__ = (CheckConstraint("amount_fen <> 0", name="amount_not_zero"),)


class StripeEvent(Base):
    """A Stripe webhook event, stored when it arrives and applied by the worker: each event id
    is stored once and changes state once (`app/integrations/stripe.py`)."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The PaymentIntent as the event carried it."""
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    """`applied`, or `unmatched`: its PaymentIntent was never ours (set aside after three days)."""

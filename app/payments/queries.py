"""Reads of the payments package, below its service and anyone's to use: money a deal received
(the one read model of receipts), by milestone and in total, and a deal's payments."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import ReadModel, among
from app.core.errors import InvalidState, NotFound
from app.payments.models import Payment, PaymentKind, PaymentState


async def received_by_milestone(session: AsyncSession, deal_id: uuid.UUID) -> dict[int, int]:
    """milestone number → fen paid for it (an applied deposit is `applied_deposit_fen`)."""
    rows = await session.execute(
        select(Payment.milestone, func.sum(Payment.amount_fen))
        .where(
            Payment.deal_id == deal_id,
            Payment.state == PaymentState.received,
            Payment.kind == PaymentKind.milestone,
        )
        .group_by(Payment.milestone)
    )
    return {int(milestone): int(total) for milestone, total in rows if milestone is not None}


async def applied_deposit_fen(session: AsyncSession, deal_id: uuid.UUID) -> int:
    """The auction deposit the deal received towards its price, unless it was refunded: it
    credits the first milestones."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.deal_id == deal_id,
            Payment.state == PaymentState.received,
            Payment.kind == PaymentKind.deposit,
        )
    )
    return int(total or 0)


async def received_total(session: AsyncSession, deal_id: uuid.UUID) -> int:
    """Money the deal has received to this day: the sum of its receipts (`receipts_select`)."""
    receipts = receipts_select().subquery()
    total = await session.scalar(
        select(func.coalesce(func.sum(receipts.c.amount_fen), 0)).where(
            receipts.c.deal_id == deal_id
        )
    )
    return int(total or 0)


async def received_payment(
    session: AsyncSession, deal_id: uuid.UUID, payment_id: uuid.UUID
) -> Payment:
    """A payment of the deal that has arrived. Raises NotFound, InvalidState (not received)."""
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.deal_id == deal_id)
    )
    if payment is None:
        raise NotFound()
    if payment.state != PaymentState.received:
        raise InvalidState(detail_code="detail.payment_not_received")
    return payment


class Receipt(NamedTuple):
    """Money a contract received, on a date: a payment, an applied deposit, or (negative) a
    refund of one of them."""

    payment_id: uuid.UUID
    deal_id: uuid.UUID
    kind: str
    """`milestone`, `deposit` or `refund`."""
    milestone: int | None
    """The milestone it pays (a refund: the one it paid); none for a deposit."""
    amount_fen: int
    """Positive when money came in, negative for a refund."""
    received_at: datetime
    """When it came in, or went back."""


def _arrived(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    """Payments that count as money received in [start, end): confirmed (and later refunded)
    ones, by the day they arrived."""
    conditions: list[ColumnElement[bool]] = [
        Payment.state.in_([PaymentState.received, PaymentState.refunded]),
        Payment.received_at.is_not(None),
    ]
    if start is not None:
        conditions.append(Payment.received_at >= start)
    if end is not None:
        conditions.append(Payment.received_at < end)
    return conditions


def _returned(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    """Payments refunded in [start, end)."""
    # A refund reduces the income of the period it is made in, not the period the money came
    # in: a filed period is never rewritten (国税函〔2008〕875号 一(五): 销售退回冲减当期收入).
    conditions: list[ColumnElement[bool]] = [
        Payment.state == PaymentState.refunded,
        Payment.refunded_at.is_not(None),
    ]
    if start is not None:
        conditions.append(Payment.refunded_at >= start)
    if end is not None:
        conditions.append(Payment.refunded_at < end)
    return conditions


def receipts_select(start: datetime | None = None, end: datetime | None = None) -> ReadModel:
    """The one read model of money received on contracts, by date: confirmed payments and
    applied deposits when they arrived, minus refunds when they went back. Columns:
    `payment_id`, `deal_id`, `kind`, `milestone`, `amount_fen` (signed), `received_at`, for
    another package to join by `deal_id`; [start, end) bounds the dates (open without them).
    Tax filings, inventors' rewards, reward pro-rata, statistics and the ledger's
    reconciliation all read money received here."""
    arrived = select(
        Payment.id.label("payment_id"),
        Payment.deal_id,
        cast(Payment.kind, String).label("kind"),
        Payment.milestone,
        Payment.amount_fen.label("amount_fen"),
        Payment.received_at.label("received_at"),
    ).where(*_arrived(start, end))
    returned = select(
        Payment.id.label("payment_id"),
        Payment.deal_id,
        literal("refund", String).label("kind"),
        Payment.milestone,
        (-Payment.amount_fen).label("amount_fen"),
        Payment.refunded_at.label("received_at"),
    ).where(*_returned(start, end))
    receipts = union_all(arrived, returned).subquery("money_received")
    return select(*receipts.c)


def receipt_of(values: Sequence[Any]) -> Receipt:
    """The receipt in the columns of `receipts_select`, in their order."""
    payment_id, deal_id, kind, milestone, amount_fen, received_at = values
    return Receipt(payment_id, deal_id, str(kind), milestone, int(amount_fen), received_at)


def deals_paid_between(start: datetime, end: datetime) -> Select[uuid.UUID]:
    """The ids of the deals that received (or gave back) money in [start, end): the deals of
    `receipts_select(start, end)`, read in one pass over the payments — the planner cannot
    estimate a union's distinct deals and would look a year's million deals up one by one."""
    return select(Payment.deal_id).where(
        or_(and_(*_arrived(start, end)), and_(*_returned(start, end)))
    )


async def received_dates(
    session: AsyncSession, payment_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """payment id → when it was received."""
    rows = await session.execute(
        select(Payment.id, Payment.received_at).where(
            among(Payment.id, payment_ids), Payment.received_at.is_not(None)
        )
    )
    return {row.id: row.received_at for row in rows if row.received_at is not None}

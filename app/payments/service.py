"""Rules of the payments package: milestone payments, confirmation, payouts, reconciliation.

Money movements are written to the ledger in the same transaction as the state they change.
"""

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
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.core.auth import PlatformRole, Principal
from app.core.db import ReadModel, among
from app.core.errors import DomainError, InvalidState, NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import service as deals
from app.payments import ledger
from app.payments.models import Payment, PaymentKind, PaymentState, Payout, StripeEvent
from app.payments.provider import PaymentProvider


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


async def record_applied_deposit(
    session: AsyncSession,
    *,
    deal_id: uuid.UUID,
    payer_organization_id: uuid.UUID,
    amount_fen: int,
    provider: str,
    reference: str,
    now: datetime,
) -> Payment:
    """The auction winner's deposit applied to the price (保证金转价款) is money the contract
    received, as surely as a payment: it is recorded as one, of kind `deposit`, received when
    the auction settled. The ledger moved the money already (deposit account → deal account)."""
    payment = Payment(
        deal_id=deal_id,
        kind=PaymentKind.deposit,
        milestone=None,
        payer_organization_id=payer_organization_id,
        amount_fen=amount_fen,
        state=PaymentState.received,
        provider=provider,
        provider_reference=reference,
        instructions={},
        created_at=now,
        received_at=now,
    )
    session.add(payment)
    await session.flush()
    await record_event(
        session,
        "payment.received",
        {
            "payment_id": str(payment.id),
            "deal_id": str(deal_id),
            "kind": PaymentKind.deposit.value,
            "milestone": None,
            "amount": Money(amount_fen).to_api(),
        },
    )
    return payment


async def request_payment(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    deal_id: uuid.UUID,
    *,
    milestone: int,
    now: datetime,
) -> Payment:
    """The buyer asks to pay a milestone: the provider says how (offline: a bank transfer with
    a unique reference). A pending payment of the same milestone is returned again rather than
    doubled. Raises NotFound, Forbidden, InvalidState (contract not signed, or ended),
    ValidationFailed(milestone) for an unknown or fully paid milestone."""
    payable = await deals.payable(session, principal, deal_id)
    due = payable.outstanding.get(milestone)
    if due is None:
        raise ValidationFailed("body.milestone", "no_such_milestone")
    pending = await session.scalar(
        select(Payment).where(
            Payment.deal_id == deal_id,
            Payment.milestone == milestone,
            Payment.state == PaymentState.pending,
        )
    )
    if pending is not None and pending.amount_fen == due:
        return pending
    if pending is not None:
        pending.state = PaymentState.cancelled
    if due == 0:
        raise ValidationFailed("body.milestone", "milestone_paid")
    instruction = await provider.create_payment(
        Money(due), purpose="htk", payer_name=str(payable.deal.buyer_organization_id)
    )
    payment = Payment(
        deal_id=deal_id,
        milestone=milestone,
        payer_organization_id=payable.deal.buyer_organization_id,
        amount_fen=due,
        state=PaymentState.pending,
        provider=instruction.provider,
        provider_reference=instruction.reference,
        instructions=instruction.instructions,
        requested_by_id=principal.user_id,
        created_at=now,
    )
    session.add(payment)
    await session.flush()
    return payment


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


async def list_payments(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID
) -> list[Payment]:
    """A deal's payments, oldest first (its parties and staff). Raises NotFound."""
    await deals.get_deal_for(session, principal, deal_id)
    rows = await session.scalars(
        select(Payment).where(Payment.deal_id == deal_id).order_by(Payment.created_at)
    )
    return list(rows.all())


async def mark_payment_received(
    session: AsyncSession, payment: Payment, *, now: datetime, confirmed_by_id: uuid.UUID | None
) -> Payment:
    """Record that a payment arrived (idempotent): the ledger takes it into the deal's account
    and the contract moves on. The one path for offline confirmation and provider webhooks."""
    if payment.state == PaymentState.received:
        return payment
    if payment.state != PaymentState.pending:
        raise InvalidState(detail_code="detail.payment_cancelled")
    payment.state = PaymentState.received
    payment.received_at = now
    payment.confirmed_by_id = confirmed_by_id
    ledger.transfer(
        session,
        debit=ledger.bank(payment.provider),
        credit=ledger.deal_account(payment.deal_id),
        amount_fen=payment.amount_fen,
        memo=f"milestone {payment.milestone} paid",
        now=now,
        deal_id=payment.deal_id,
    )
    await session.flush()
    await deals.follow_payments(session, payment.deal_id, now=now)
    await record_event(
        session,
        "payment.received",
        {
            "payment_id": str(payment.id),
            "deal_id": str(payment.deal_id),
            "milestone": payment.milestone,
            "amount": Money(payment.amount_fen).to_api(),
        },
    )
    return payment


async def confirm_payment(
    session: AsyncSession, principal: Principal, payment_id: uuid.UUID, *, now: datetime
) -> Payment:
    """Platform finance confirms that an offline payment arrived. Raises Forbidden, NotFound,
    InvalidState for a cancelled payment."""
    principal.require_platform_role(PlatformRole.finance)
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    if payment is None:
        raise NotFound()
    return await mark_payment_received(session, payment, now=now, confirmed_by_id=principal.user_id)


async def refund_payment(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    payment_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> Payment:
    """Platform finance gives a received payment back to the buyer, while the deal's account
    still holds it (not yet paid out to the seller). The milestone is due again. Raises
    Forbidden, NotFound, InvalidState (not received, or already passed to the seller)."""
    principal.require_platform_role(PlatformRole.finance)
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    if payment is None:
        raise NotFound()
    if payment.state != PaymentState.received:
        raise InvalidState(detail_code="detail.payment_not_received")
    await deals.get_deal_for(session, principal, payment.deal_id, lock=True)
    account = ledger.deal_account(payment.deal_id)
    if -await ledger.balance(session, account) < payment.amount_fen:
        raise InvalidState(detail_code="detail.refund_after_payout")
    payment.refund_reference = await provider.refund(
        payment.provider_reference, Money(payment.amount_fen)
    )
    payment.state = PaymentState.refunded
    payment.refunded_at = now
    payment.refund_reason = reason
    ledger.transfer(
        session,
        debit=account,
        credit=ledger.bank(payment.provider),
        amount_fen=payment.amount_fen,
        memo=f"milestone {payment.milestone} refunded",
        now=now,
        deal_id=payment.deal_id,
    )
    await session.flush()
    await deals.follow_payments(session, payment.deal_id, now=now)
    await record_event(
        session,
        "payment.refunded",
        {
            "payment_id": str(payment.id),
            "deal_id": str(payment.deal_id),
            "amount": Money(payment.amount_fen).to_api(),
        },
    )
    return payment


async def pay_out(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    deal_id: uuid.UUID,
    *,
    now: datetime,
) -> Payout:
    """Platform finance passes what the deal's account holds to the seller. Raises Forbidden,
    NotFound, InvalidState when there is nothing to pass on."""
    principal.require_platform_role(PlatformRole.finance)
    deal = await deals.get_deal_for(session, principal, deal_id, lock=True)
    account = ledger.deal_account(deal.id)
    # The account is a liability: credits (negative) are money held for the seller.
    held = -await ledger.balance(session, account)
    if held <= 0:
        raise InvalidState(detail_code="detail.nothing_to_pay_out")
    seller = await accounts.organization_for_payout(session, deal.seller_organization_id)
    reference = await provider.pay_out(Money(held), recipient=seller, purpose="fk")
    payout = Payout(
        deal_id=deal.id,
        recipient_organization_id=deal.seller_organization_id,
        amount_fen=held,
        provider=provider.name,
        provider_reference=reference,
        paid_at=now,
        paid_by_id=principal.user_id,
    )
    session.add(payout)
    ledger.transfer(
        session,
        debit=account,
        credit=ledger.bank(provider.name),
        amount_fen=held,
        memo="paid out to the seller",
        now=now,
        deal_id=deal.id,
    )
    await session.flush()
    await record_event(
        session,
        "payout.paid",
        {"payout_id": str(payout.id), "deal_id": str(deal.id), "amount": Money(held).to_api()},
    )
    return payout


async def reconcile(session: AsyncSession) -> list[ledger.Imbalance]:
    """The ledger against the tables: every journal balanced, and each deal's account holding
    exactly the money it received (`receipts_select`: payments and an applied deposit, less
    refunds) less what was paid out. Empty when everything reconciles."""
    problems = await ledger.unbalanced_journals(session)
    booked = await ledger.balances(session, "deal:")
    receipts = receipts_select().subquery()
    received = {
        deal_id: int(total)
        for deal_id, total in await session.execute(
            select(receipts.c.deal_id, func.sum(receipts.c.amount_fen)).group_by(receipts.c.deal_id)
        )
    }
    paid_out = {
        deal_id: int(total)
        for deal_id, total in await session.execute(
            select(Payout.deal_id, func.sum(Payout.amount_fen)).group_by(Payout.deal_id)
        )
    }
    for deal_id in (
        set(received)
        | set(paid_out)
        | {uuid.UUID(account.removeprefix("deal:")) for account in booked}
    ):
        expected = received.get(deal_id, 0) - paid_out.get(deal_id, 0)
        actual = -booked.get(ledger.deal_account(deal_id), 0)
        if actual != expected:
            problems.append(ledger.Imbalance(f"deal {deal_id}", actual - expected))
    return problems


# --- Stripe webhooks ------------------------------------------------------------------------

AUTHORIZED = "payment_intent.amount_capturable_updated"
SUCCEEDED = "payment_intent.succeeded"
CANCELED = "payment_intent.canceled"
FAILED = "payment_intent.payment_failed"
HANDLED = frozenset({AUTHORIZED, SUCCEEDED, CANCELED, FAILED})


class UnhandledEvent(DomainError):
    status, code = 400, "unhandled_event"
    detail_code = "detail.unhandled_event"


async def handle_stripe_webhook(
    session: AsyncSession, payload: bytes, signature: str | None, *, secret: str, now: datetime
) -> str:
    """Apply a signed Stripe event once: "applied", or "duplicate" for an event id seen before.

    Each handler re-reads our state and moves it only forward, so events arriving late or out
    of order change nothing twice: an authorization holds a pending deposit; a success marks a
    pending payment received (or holds a pending deposit); a cancellation drops what is still
    pending. Raises InvalidSignature (bad or stale), UnhandledEvent (a type we did not
    subscribe to), NotFound (a PaymentIntent we do not know: Stripe retries, by which time our
    side may have committed it). A failure stores nothing, so the retry is applied in full.
    """
    from app.auctions import service as auctions
    from app.payments.stripe_provider import verify_event

    event = verify_event(payload, signature, secret)
    if event.type not in HANDLED:
        raise UnhandledEvent(type=event.type)
    first = await session.scalar(
        insert(StripeEvent)
        .values(id=event.id, type=event.type, received_at=now)
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)
    )
    if first is None:
        return "duplicate"
    reference = str(event.object.get("id", ""))
    deposit = await auctions.deposit_by_reference(session, reference)
    payment = await session.scalar(
        select(Payment).where(Payment.provider_reference == reference).with_for_update()
    )
    if deposit is None and payment is None:
        raise NotFound()
    if deposit is not None:
        if event.type in {AUTHORIZED, SUCCEEDED}:
            await auctions.mark_deposit_held(session, deposit, now=now, confirmed_by_id=None)
        elif event.type == CANCELED:
            await auctions.cancel_pending_deposit(session, deposit, now=now)
    if payment is not None:
        if event.type == SUCCEEDED:
            await mark_payment_received(session, payment, now=now, confirmed_by_id=None)
        elif event.type == CANCELED and payment.state == PaymentState.pending:
            payment.state = PaymentState.cancelled
    return "applied"

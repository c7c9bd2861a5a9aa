"""Rules of the payments package: milestone payments, confirmation, payouts, reconciliation.

Money movements are written to the ledger in the same transaction as the state they change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.core.auth import PlatformRole, Principal
from app.core.errors import InvalidState, NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import queries as deals
from app.payments import ledger, queries
from app.payments.models import Payment, PaymentKind, PaymentState, Payout
from app.payments.provider import PaymentProvider


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
    """Record that a payment arrived (idempotent): the ledger takes it into the deal's account.
    The one path for offline confirmation and provider webhooks; what it moves above payments
    (the contract) follows in `app.integrations.payments`."""
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
    await record_event(
        session,
        "payment.received",
        {
            "payment_id": str(payment.id),
            "deal_id": str(payment.deal_id),
            "milestone": payment.milestone,
            "amount": Money(payment.amount_fen).to_api(),
            "state": payment.state.value,
        },
        before={"state": PaymentState.pending},
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
    await record_event(
        session,
        "payment.refunded",
        {
            "payment_id": str(payment.id),
            "deal_id": str(payment.deal_id),
            "amount": Money(payment.amount_fen).to_api(),
            "state": payment.state.value,
            "reason": reason,
        },
        before={"state": PaymentState.received},
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
    receipts = queries.receipts_select().subquery()
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

"""Payments arriving and going back, with what they move above the payments package: a
registered contract follows its money (performing, completed, performing again after a refund).
Finance's confirmations and refunds and Stripe's events all come through here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.deals import service as deals
from app.payments import service as payments
from app.payments.models import Payment
from app.payments.provider import PaymentProvider


async def payment_arrived(
    session: AsyncSession, payment: Payment, *, now: datetime, confirmed_by_id: uuid.UUID | None
) -> Payment:
    """Record that a payment arrived (idempotent) and move its contract along. Raises
    InvalidState for a cancelled payment."""
    await payments.mark_payment_received(session, payment, now=now, confirmed_by_id=confirmed_by_id)
    await deals.follow_payments(session, payment.deal_id, now=now)
    return payment


async def confirm_payment(
    session: AsyncSession, principal: Principal, payment_id: uuid.UUID, *, now: datetime
) -> Payment:
    """Platform finance confirms that an offline payment arrived; its contract moves on.
    Raises as `payments.confirm_payment`."""
    payment = await payments.confirm_payment(session, principal, payment_id, now=now)
    await deals.follow_payments(session, payment.deal_id, now=now)
    return payment


async def refund_payment(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    payment_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> Payment:
    """Platform finance gives a received payment back; its milestone is due again and the
    contract follows. Raises as `payments.refund_payment`."""
    payment = await payments.refund_payment(
        session, principal, provider, payment_id, reason=reason, now=now
    )
    await deals.follow_payments(session, payment.deal_id, now=now)
    return payment

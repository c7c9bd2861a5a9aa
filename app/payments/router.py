"""HTTP routes of the payments package."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, status
from pydantic import BaseModel

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import NotFound, problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.money import Money
from app.deals.auth import DealRead, DealWrite
from app.integrations import payments, stripe
from app.payments import service
from app.payments.auth import FinanceStaff
from app.payments.models import Payment, Payout
from app.payments.provider import Provider
from app.payments.schemas import PaymentCreate, PaymentOut, PayoutOut, Refund

router = APIRouter(tags=["payments"], responses=problem_responses(401, 403, 404, 422))


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        deal_id=payment.deal_id,
        kind=payment.kind,
        milestone=payment.milestone,
        amount=Money(payment.amount_fen),
        state=payment.state,
        provider=payment.provider,
        reference=payment.provider_reference,
        instructions=payment.instructions,
        created_at=payment.created_at,
        received_at=payment.received_at,
        refunded_at=payment.refunded_at,
        refund_reason=payment.refund_reason,
    )


def payout_out(payout: Payout) -> PayoutOut:
    return PayoutOut(
        id=payout.id,
        deal_id=payout.deal_id,
        recipient_organization_id=payout.recipient_organization_id,
        amount=Money(payout.amount_fen),
        provider=payout.provider,
        reference=payout.provider_reference,
        paid_at=payout.paid_at,
    )


@router.post(
    "/v1/deals/{deal_id}/payments",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Pay a milestone",
    responses=problem_responses(409),
)
async def request_payment(
    session: Session,
    now: Now,
    provider: Provider,
    caller: DealWrite,
    idempotency: IdempotencyOf,
    deal_id: uuid.UUID,
    body: PaymentCreate,
) -> PaymentOut:
    """The buyer's owner or admin gets the instructions to pay what is still due on a
    milestone (offline: a bank transfer with the reference in the remark)."""
    await idempotency.claim(caller)
    payment = await service.request_payment(
        session, caller, provider, deal_id, milestone=body.milestone, now=now
    )
    return await idempotency.remember(payment_out(payment), status_code=201)


@router.get(
    "/v1/deals/{deal_id}/payments", response_model=list[PaymentOut], summary="List payments"
)
async def list_payments(session: Session, caller: DealRead, deal_id: uuid.UUID) -> list[PaymentOut]:
    """The deal's payments, oldest first."""
    return [payment_out(p) for p in await service.list_payments(session, caller, deal_id)]


@router.post(
    "/v1/payments/{payment_id}/confirm",
    response_model=PaymentOut,
    summary="Confirm an offline payment (platform finance)",
    responses=problem_responses(409),
)
async def confirm_payment(
    session: Session, now: Now, caller: FinanceStaff, payment_id: uuid.UUID
) -> PaymentOut:
    """Finance staff record that the transfer arrived: the ledger books it and the contract
    moves on (performing; completed when every milestone is paid)."""
    return payment_out(await payments.confirm_payment(session, caller, payment_id, now=now))


@router.post(
    "/v1/payments/{payment_id}/refund",
    response_model=PaymentOut,
    summary="Refund a received payment (platform finance)",
    responses=problem_responses(409),
)
async def refund_payment(
    session: Session,
    now: Now,
    provider: Provider,
    caller: FinanceStaff,
    payment_id: uuid.UUID,
    body: Refund,
) -> PaymentOut:
    """Give a received payment back to the buyer, with a reason, while it has not yet been
    passed to the seller; its milestone is due again."""
    return payment_out(
        await payments.refund_payment(
            session, caller, provider, payment_id, reason=body.reason, now=now
        )
    )


@router.post(
    "/v1/deals/{deal_id}/payouts",
    response_model=PayoutOut,
    status_code=status.HTTP_201_CREATED,
    summary="Pass received money to the seller (platform finance)",
    responses=problem_responses(409),
)
async def pay_out(
    session: Session,
    now: Now,
    provider: Provider,
    caller: FinanceStaff,
    idempotency: IdempotencyOf,
    deal_id: uuid.UUID,
) -> PayoutOut:
    """Pay the seller everything the deal's account holds (payments and an applied deposit)."""
    await idempotency.claim(caller)
    payout = payout_out(await service.pay_out(session, caller, provider, deal_id, now=now))
    return await idempotency.remember(payout, status_code=201)


class WebhookAck(BaseModel):
    outcome: Literal["received", "duplicate"]


@router.post(
    "/v1/payments/stripe/webhook",
    response_model=WebhookAck,
    summary="Stripe webhook",
    responses=problem_responses(400, 404),
)
async def stripe_webhook(
    request: Request,
    session: Session,
    now: Now,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    """Stripe's events about PaymentIntents (deposits authorized, payments succeeded,
    cancellations). The `Stripe-Signature` header is verified with `STRIPE_WEBHOOK_SECRET`; the
    event is stored and answered at once (`received`, or `duplicate` for an event id stored
    before) and applied by the worker, which retries until our side knows its PaymentIntent.
    404 when Stripe is not configured."""
    secret = request.app.state.settings.stripe_webhook_secret
    if secret is None:
        raise NotFound()
    outcome = await stripe.receive_stripe_event(
        session,
        await request.body(),
        stripe_signature,
        secret=secret.get_secret_value(),
        now=now,
    )
    return WebhookAck(outcome=outcome)

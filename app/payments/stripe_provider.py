"""The Stripe provider: PaymentIntents (manual capture for deposits), Connect transfers for
payouts, through the `stripe` library's async httpx client.

Stripe amounts are in the currency's smallest unit; CNY's is the fen, so our amounts pass as
they are. Confirmation does not come back from these calls: the PaymentIntent's webhook says
when money is authorized or paid (`app.payments.service.apply_stripe_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from app.core.errors import DomainError
from app.core.money import Money
from app.payments.provider import Hold, Recipient


class PayoutAccountMissing(DomainError):
    status, code = 409, "payout_account_missing"
    detail_code = "detail.payout_account_missing"


class StripeUnavailable(DomainError):
    status, code = 503, "payment_provider_unavailable"
    detail_code = "detail.payment_provider_unavailable"


class StripeProvider:
    name = "stripe"

    def __init__(
        self, api_key: str, *, api_base: str | None = None, max_network_retries: int = 2
    ) -> None:
        self.client = stripe.StripeClient(
            api_key,
            http_client=stripe.HTTPXClient(),
            max_network_retries=max_network_retries,
            base_addresses={"api": api_base} if api_base else {},
        )

    async def _intent(self, amount: Money, *, purpose: str, payer_name: str, manual: bool) -> Hold:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                {
                    "amount": amount.fen,
                    "currency": amount.currency.lower(),
                    "capture_method": "manual" if manual else "automatic",
                    "automatic_payment_methods": {"enabled": True},
                    "description": f"{purpose} {payer_name}"[:1000],
                    "metadata": {"purpose": purpose},
                }
            )
        except stripe.StripeError as error:
            raise StripeUnavailable() from error
        return Hold(
            provider=self.name,
            reference=intent.id,
            instructions={
                "method": "stripe",
                "payment_intent": intent.id,
                "client_secret": intent.client_secret,
                "amount": amount.to_api(),
            },
        )

    async def create_hold(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        return await self._intent(amount, purpose=purpose, payer_name=payer_name, manual=True)

    async def create_payment(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        return await self._intent(amount, purpose=purpose, payer_name=payer_name, manual=False)

    async def capture_hold(self, reference: str, amount: Money) -> None:
        try:
            await self.client.v1.payment_intents.capture_async(
                reference,
                {"amount_to_capture": amount.fen},
                {"idempotency_key": f"capture-{reference}"},
            )
        except stripe.StripeError as error:
            raise StripeUnavailable() from error

    async def release_hold(self, reference: str, amount: Money) -> None:
        try:
            await self.client.v1.payment_intents.cancel_async(
                reference, options={"idempotency_key": f"cancel-{reference}"}
            )
        except stripe.InvalidRequestError as error:
            # Never authorized or already cancelled: nothing is held.
            if getattr(error, "code", None) != "payment_intent_unexpected_state":
                raise StripeUnavailable() from error
        except stripe.StripeError as error:
            raise StripeUnavailable() from error

    async def refund(self, reference: str, amount: Money) -> str:
        try:
            refund = await self.client.v1.refunds.create_async(
                {"payment_intent": reference, "amount": amount.fen},
                {"idempotency_key": f"refund-{reference}-{amount.fen}"},
            )
        except stripe.StripeError as error:
            raise StripeUnavailable() from error
        return str(refund.id)

    async def pay_out(self, amount: Money, *, recipient: Recipient, purpose: str) -> str:
        if not recipient.stripe_account_id:
            raise PayoutAccountMissing()
        try:
            transfer = await self.client.v1.transfers.create_async(
                {
                    "amount": amount.fen,
                    "currency": amount.currency.lower(),
                    "destination": recipient.stripe_account_id,
                    "metadata": {"purpose": purpose},
                }
            )
        except stripe.StripeError as error:
            raise StripeUnavailable() from error
        return str(transfer.id)


class InvalidSignature(DomainError):
    status, code = 400, "invalid_signature"
    detail_code = "detail.invalid_signature"


@dataclass(frozen=True)
class VerifiedEvent:
    id: str
    type: str
    object: dict[str, Any]


def verify_event(payload: bytes, signature: str | None, secret: str) -> VerifiedEvent:
    """The event, if `Stripe-Signature` proves Stripe sent it within the last five minutes
    (the library checks the HMAC and the timestamp). Raises InvalidSignature."""
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret, tolerance=300)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise InvalidSignature() from error
    data = event.to_dict()
    return VerifiedEvent(str(data["id"]), str(data["type"]), dict(data["data"]["object"]))

"""The payment provider a deployment's settings choose: the one place that knows every
provider, so each provider's module depends on the protocol and never the other way round."""

from __future__ import annotations

from app.core.config import Settings
from app.payments.provider import BankAccount, OfflineProvider, PaymentProvider
from app.payments.stripe_provider import StripeProvider


def provider_for(settings: Settings) -> PaymentProvider:
    """Stripe when `STRIPE_API_KEY` is set, else bank transfer confirmed by finance staff."""
    if settings.stripe_api_key is not None:
        return StripeProvider(
            settings.stripe_api_key.get_secret_value(), api_base=settings.stripe_api_base
        )
    return OfflineProvider(
        BankAccount(
            name=settings.bank_account_name,
            bank=settings.bank_name,
            number=settings.bank_account_number,
        )
    )

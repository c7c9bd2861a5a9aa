"""The payments provider protocol, and the offline provider (bank transfer, 线下转账).

A provider moves money; our tables and the ledger say what the money is for. Payments of
contract milestones are asked for with `create_payment` and confirmed the same way as holds;
`pay_out` passes money on to a seller. Deposits (保证金) are holds:
`create_hold` tells the payer how to pay, the hold is confirmed (offline: by platform finance
staff who see the transfer arrive; Stripe: by the PaymentIntent's webhook), and at the end of
the auction it is captured (applied to the winner's price) or released.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from app.core.money import Money


@dataclass(frozen=True)
class Hold:
    """A hold the provider has opened: its reference and what the payer must do."""

    provider: str
    reference: str
    instructions: dict[str, Any] = field(default_factory=dict)
    confirmed: bool = False
    """True when the provider holds the money already (nothing left for the payer to do)."""


@dataclass(frozen=True)
class Recipient:
    """Who a payout goes to."""

    organization_id: str
    name: str
    stripe_account_id: str | None = None


class PaymentProvider(Protocol):
    name: str

    async def create_hold(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        """Open a hold of `amount` and say how to pay it."""
        ...

    async def capture_hold(self, reference: str, amount: Money) -> None:
        """Take the held money (the winner's deposit applied to the price)."""
        ...

    async def release_hold(self, reference: str, amount: Money) -> None:
        """Give the held money back."""
        ...

    async def create_payment(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        """Ask for a payment of `amount` and say how to pay it (confirmed later)."""
        ...

    async def pay_out(self, amount: Money, *, recipient: Recipient, purpose: str) -> str:
        """Send `amount` to a recipient; returns the provider's reference."""
        ...

    async def refund(self, reference: str, amount: Money) -> str:
        """Give back `amount` of the payment `reference`; returns the refund's reference."""
        ...


@dataclass(frozen=True)
class BankAccount:
    """The platform's account that receives transfers."""

    name: str
    bank: str
    number: str


class OfflineProvider:
    """Bank transfer: the payer transfers with a unique reference in the remark (附言), finance
    staff confirm receipt in the API, releases are paid back by transfer. Nothing here talks to a
    bank, so capture and release only need recording, which the caller's tables do."""

    name = "offline"

    def __init__(self, account: BankAccount) -> None:
        self.account = account

    async def create_hold(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        reference = f"{purpose.upper()}-{secrets.token_hex(5).upper()}"
        return Hold(
            provider=self.name,
            reference=reference,
            instructions={
                "method": "bank_transfer",
                "account_name": self.account.name,
                "bank": self.account.bank,
                "account_number": self.account.number,
                "amount": amount.to_api(),
                "remark": reference,
                "payer": payer_name,
            },
        )

    async def create_payment(self, amount: Money, *, purpose: str, payer_name: str) -> Hold:
        return await self.create_hold(amount, purpose=purpose, payer_name=payer_name)

    async def pay_out(self, amount: Money, *, recipient: Recipient, purpose: str) -> str:
        # Finance makes the transfer and records it; the reference ties the two together.
        return f"{purpose.upper()}-{secrets.token_hex(5).upper()}"

    async def refund(self, reference: str, amount: Money) -> str:
        # Finance transfers the money back; this reference goes in that transfer's remark.
        return f"TK-{secrets.token_hex(5).upper()}"

    async def capture_hold(self, reference: str, amount: Money) -> None:
        return None

    async def release_hold(self, reference: str, amount: Money) -> None:
        return None


async def _provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payments
    return provider


Provider = Annotated[PaymentProvider, Depends(_provider)]
"""The application's payments provider, for routes."""

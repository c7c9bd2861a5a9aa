"""localstripe (a stateful fake Stripe server, PyPI `localstripe`) as the tests run it: its own
process on a loopback port, state in memory only, and taught the two PaymentIntent parameters
our provider sends that it predates.

localstripe 1.15 refuses `automatic_payment_methods` (Stripe, 2023) and `description` on a
PaymentIntent ("Unexpected …", 400); here it accepts both and stores them, nothing else changes.
Without this the test would decide what we send Stripe, not Stripe's API reference.

Run: python tests/payments/localstripe_server.py --port 8420 --from-scratch
"""

from __future__ import annotations

from typing import Any

from localstripe import resources, server

_created = resources.PaymentIntent.__init__


def _payment_intent(
    self: Any,
    *arguments: Any,
    automatic_payment_methods: dict[str, Any] | None = None,
    description: str | None = None,
    **parameters: Any,
) -> None:
    _created(self, *arguments, **parameters)
    self.automatic_payment_methods = automatic_payment_methods
    self.description = description


resources.PaymentIntent.__init__ = _payment_intent  # type: ignore[method-assign]
# Each change would be pickled to /tmp/localstripe.pickle, shared by every run on the machine.
resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]

if __name__ == "__main__":
    server.start()

"""The Stripe provider against a running Stripe server: localstripe, a stateful fake of Stripe's
API, as its own process (`localstripe_server.py`), called through the real `stripe` library.

What runs here: deposits as manual-capture PaymentIntents, paid, captured in part or released;
milestone payments captured at once and refunded in part; and Stripe's webhook as localstripe
sends it — signed with the endpoint's secret as Stripe signs — received by the app, stored, and
applied by the worker: the milestone's payment is received and its contract moves.

Where localstripe differs from Stripe (checked against Stripe's API reference in
`test_stripe.py` with respx, which stays for these):
- it has no Connect: `POST /v1/transfers` (our payouts) is a 404 there;
- an authorized manual-capture PaymentIntent sends no event, where Stripe sends
  `payment_intent.amount_capturable_updated`: a deposit held from its webhook stays tested
  with events signed by the `stripe` library as Stripe signs them;
- cancelling a cancelled PaymentIntent is a 400 without Stripe's `payment_intent_unexpected_state`;
- it ignores `Idempotency-Key`, so a retried capture is refused where Stripe replays the first.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from fastapi import FastAPI
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.money import Money
from app.main import create_app
from app.payments.provider import Recipient
from app.payments.stripe_provider import StripeProvider, StripeUnavailable
from tests.auctions.test_auctions_api import cny
from tests.deals.test_deals_api import payments_and_contract, registered_deal
from tests.factories import MarketFactory
from tests.market import relay_events

SERVER = Path(__file__).with_name("localstripe_server.py")
KEY = "sk_test_localstripe"
SECRET = "whsec_localstripe_" + "s" * 16


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[str]:
    """localstripe's address, started for this module and stopped after it."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - the test's own server
        [sys.executable, str(SERVER), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{address}/v1/balance", headers={"Authorization": f"Bearer {KEY}"})
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, errors = process.communicate()
                pytest.fail(f"localstripe did not start: {errors.decode()[-2000:]}")
            time.sleep(0.1)
    yield address
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def provider(stripe_server: str) -> StripeProvider:
    return StripeProvider(KEY, api_base=stripe_server, max_network_retries=0)


@pytest.fixture
def stripe_api(stripe_server: str) -> stripe.StripeClient:
    """Stripe's API as the payer's side reaches it (Stripe.js in a browser, here the library)."""
    return stripe.StripeClient(
        KEY,
        http_client=stripe.HTTPXClient(),
        base_addresses={"api": stripe_server},
        max_network_retries=0,
    )


async def pay(stripe_api: stripe.StripeClient, payment_intent: str) -> stripe.PaymentIntent:
    """The payer pays the PaymentIntent with Stripe's test card."""
    card = await stripe_api.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        }
    )
    await stripe_api.v1.payment_intents.update_async(payment_intent, {"payment_method": card.id})
    return await stripe_api.v1.payment_intents.confirm_async(payment_intent)


async def test_a_deposit_is_held_then_applied_in_part_to_the_price(
    provider: StripeProvider, stripe_api: stripe.StripeClient
) -> None:
    hold = await provider.create_hold(Money(5_000_000), purpose="保证金", payer_name="某企业")
    created = await stripe_api.v1.payment_intents.retrieve_async(hold.reference)
    assert (created.capture_method, created.amount, created.currency) == (
        "manual",
        5_000_000,
        "cny",
    )
    assert created.description == "保证金 某企业"
    assert hold.instructions["client_secret"] == created.client_secret

    assert (await pay(stripe_api, hold.reference)).status == "requires_capture"
    await provider.capture_hold(hold.reference, Money(3_000_000))

    captured = await stripe_api.v1.payment_intents.retrieve_async(
        hold.reference, {"expand": ["latest_charge"]}
    )
    charge = captured.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert captured.status == "succeeded"
    assert (charge.captured, charge.amount - charge.amount_refunded) == (True, 3_000_000)


async def test_a_deposit_is_released_paid_or_not(
    provider: StripeProvider, stripe_api: stripe.StripeClient
) -> None:
    paid = await provider.create_hold(Money(1_000_000), purpose="保证金", payer_name="甲")
    unpaid = await provider.create_hold(Money(1_000_000), purpose="保证金", payer_name="乙")
    await pay(stripe_api, paid.reference)

    await provider.release_hold(paid.reference, Money(1_000_000))
    await provider.release_hold(unpaid.reference, Money(1_000_000))

    for hold in (paid, unpaid):
        intent = await stripe_api.v1.payment_intents.retrieve_async(hold.reference)
        assert intent.status == "canceled"


async def test_a_milestone_payment_is_taken_at_once_and_refunded_in_part(
    provider: StripeProvider, stripe_api: stripe.StripeClient
) -> None:
    payment = await provider.create_payment(Money(25_000_000), purpose="里程碑1", payer_name="丙")
    assert (await pay(stripe_api, payment.reference)).status == "succeeded"

    refund_id = await provider.refund(payment.reference, Money(5_000_000))

    refund = await stripe_api.v1.refunds.retrieve_async(refund_id)
    assert (refund.amount, refund.status) == (5_000_000, "succeeded")


async def test_a_stripe_error_is_a_503_not_a_500(provider: StripeProvider) -> None:
    with pytest.raises(StripeUnavailable):
        await provider.refund("pi_neverissued", Money(100))


async def test_payouts_need_connect_which_localstripe_lacks(provider: StripeProvider) -> None:
    """Payouts (Connect transfers) stay tested with respx in test_stripe.py; this fails when
    localstripe learns transfers, to move that test here."""
    recipient = Recipient("org", "某大学", stripe_account_id="acct_1")
    with pytest.raises(StripeUnavailable) as refused:
        await provider.pay_out(Money(100), recipient=recipient, purpose="payout")
    assert isinstance(refused.value.__cause__, stripe.StripeError)
    assert refused.value.__cause__.http_status == 404  # no such route on localstripe


# --- the webhook, as localstripe sends it --------------------------------------------------------


@pytest.fixture
async def stripe_app(
    settings: Settings, clock: FrozenClock, stripe_server: str
) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(
        update={
            "stripe_api_key": SecretStr(KEY),
            "stripe_webhook_secret": SecretStr(SECRET),
            "stripe_api_base": stripe_server,
        }
    )
    application = create_app(configured, clock=clock)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
def webhook_inbox(stripe_server: str, httpserver: HTTPServer) -> HTTPServer:
    """A loopback endpoint registered with localstripe as the platform's webhook: it keeps what
    Stripe sends, for the test to hand to the app byte for byte (the app itself runs in-process)."""
    httpserver.expect_request("/stripe", method="POST").respond_with_data("")
    httpx.post(
        f"{stripe_server}/_config/webhooks/techx",
        data={"url": httpserver.url_for("/stripe"), "secret": SECRET},
    ).raise_for_status()
    return httpserver


async def delivered(
    inbox: HTTPServer, event_type: str, payment_intent: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the event localstripe sent about a PaymentIntent (it sends a
    second after the change)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for request, _ in inbox.log:
            event: dict[str, Any] = json.loads(request.get_data())
            if event["type"] == event_type and event["data"]["object"]["id"] == payment_intent:
                return request.get_data(), dict(request.headers)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} about {payment_intent} from localstripe")


async def hand_over(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/v1/payments/stripe/webhook",
        content=body,
        headers={
            "Stripe-Signature": headers["Stripe-Signature"],
            "Content-Type": headers["Content-Type"],
        },
    )


async def test_a_milestone_paid_on_stripe_is_received_from_its_signed_webhook(
    stripe_client: httpx.AsyncClient,
    stripe_api: stripe.StripeClient,
    webhook_inbox: HTTPServer,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    deal_id, p = await registered_deal(stripe_client, factory)
    asked = await stripe_client.post(
        f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
    )
    assert asked.status_code == 201, asked.text
    intent_id = asked.json()["instructions"]["payment_intent"]

    await pay(stripe_api, intent_id)
    body, headers = await delivered(webhook_inbox, "payment_intent.succeeded", intent_id)
    answers = [await hand_over(stripe_client, body, headers) for _ in range(2)]
    forged = await hand_over(stripe_client, body.replace(b"succeeded", b"SUCCEEDED"), headers)
    await relay_events(sessionmaker, clock)

    payments, contract = await payments_and_contract(stripe_client, deal_id, p)
    assert [a.json()["outcome"] for a in answers] == ["received", "duplicate"]
    assert forged.json()["code"] == "invalid_signature"
    assert [x["state"] for x in payments] == ["received"]
    assert contract["versions"][0]["milestones"][0]["outstanding"] == cny("0.00")

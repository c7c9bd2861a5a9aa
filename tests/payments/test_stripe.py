"""The Stripe provider at its HTTP boundary (respx, Stripe's documented shapes) and the Stripe
webhook with signatures made by the `stripe` library: the shapes and the cases a running fake
cannot give (Connect transfers, the authorization event, errors, events out of order). The
provider against a running Stripe server: `test_stripe_server.py` (localstripe)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
import stripe
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.money import Money
from app.core.outbox import OutboxEvent
from app.integrations.stripe import MATCH_WINDOW
from app.main import create_app
from app.payments.models import LedgerEntry, Payment, StripeEvent
from app.payments.provider import Recipient
from app.payments.stripe_provider import PayoutAccountMissing, StripeProvider, StripeUnavailable
from tests.auctions.test_auctions_api import cny
from tests.deals.test_deals_api import payments_and_contract, registered_deal
from tests.factories import MarketFactory
from tests.market import relay_events

API = "https://api.stripe.com"
SECRET = "whsec_test_" + "s" * 24


def intent(
    intent_id: str,
    amount: int,
    *,
    capture_method: str = "manual",
    status: str = "requires_payment_method",
) -> dict[str, Any]:
    """A PaymentIntent as Stripe's API reference documents it (the fields we read, and some)."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": capture_method,
        "client_secret": f"{intent_id}_secret_abc",
        "currency": "cny",
        "livemode": False,
        "metadata": {},
        "status": status,
    }


def signed(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, age: int = 0
) -> tuple[bytes, str]:
    payload = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
            "object": "event",
            "type": event_type,
            "api_version": "2025-09-30.clover",
            "created": int(time.time()) - age,
            "data": {"object": obj},
            "livemode": False,
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(
        payload, SECRET, int(time.time()) - age
    )
    return payload.encode(), header


# --- the provider at Stripe's HTTP boundary -----------------------------------------------------


@respx.mock
async def test_a_deposit_is_a_manual_capture_payment_intent() -> None:
    created = respx.post(f"{API}/v1/payment_intents").mock(
        return_value=httpx.Response(200, json=intent("pi_123", 1_000_000))
    )
    captured = respx.post(f"{API}/v1/payment_intents/pi_123/capture").mock(
        return_value=httpx.Response(200, json=intent("pi_123", 1_000_000, status="succeeded"))
    )
    cancelled = respx.post(f"{API}/v1/payment_intents/pi_456/cancel").mock(
        return_value=httpx.Response(200, json=intent("pi_456", 5, status="canceled"))
    )
    provider = StripeProvider("sk_test_x", max_network_retries=0)

    hold = await provider.create_hold(Money(1_000_000), purpose="bzj", payer_name="某企业")
    await provider.capture_hold("pi_123", Money(1_000_000))
    await provider.release_hold("pi_456", Money(5))

    form = dict(httpx.QueryParams(created.calls[0].request.content.decode()))
    assert form["amount"] == "1000000"
    assert form["currency"] == "cny"
    assert form["capture_method"] == "manual"
    assert created.calls[0].request.headers["authorization"] == "Bearer sk_test_x"
    assert (hold.provider, hold.reference) == ("stripe", "pi_123")
    assert hold.instructions["client_secret"] == "pi_123_secret_abc"
    assert dict(httpx.QueryParams(captured.calls[0].request.content.decode())) == {
        "amount_to_capture": "1000000"
    }
    assert captured.calls[0].request.headers["idempotency-key"] == "capture-pi_123"
    assert cancelled.called


@respx.mock
async def test_a_payout_is_a_connect_transfer_and_needs_the_account() -> None:
    route = respx.post(f"{API}/v1/transfers").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "tr_1",
                "object": "transfer",
                "amount": 500,
                "currency": "cny",
                "destination": "acct_1abcdef",
            },
        )
    )
    provider = StripeProvider("sk_test_x", max_network_retries=0)

    reference = await provider.pay_out(
        Money(500), recipient=Recipient("o", "卖方", "acct_1abcdef"), purpose="fk"
    )
    with pytest.raises(PayoutAccountMissing):
        await provider.pay_out(Money(500), recipient=Recipient("o", "卖方"), purpose="fk")

    assert reference == "tr_1"
    assert (
        dict(httpx.QueryParams(route.calls[0].request.content.decode()))["destination"]
        == "acct_1abcdef"
    )


@respx.mock
async def test_a_refund_is_a_stripe_refund_of_the_payment_intent() -> None:
    route = respx.post(f"{API}/v1/refunds").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "re_1",
                "object": "refund",
                "amount": 700,
                "currency": "cny",
                "payment_intent": "pi_9",
                "status": "succeeded",
            },
        )
    )

    reference = await StripeProvider("sk_test_x", max_network_retries=0).refund("pi_9", Money(700))

    assert reference == "re_1"
    assert dict(httpx.QueryParams(route.calls[0].request.content.decode())) == {
        "payment_intent": "pi_9",
        "amount": "700",
    }
    assert route.calls[0].request.headers["idempotency-key"] == "refund-pi_9-700"


@respx.mock
async def test_stripe_errors_are_a_503_not_a_500() -> None:
    respx.post(f"{API}/v1/payment_intents").mock(
        return_value=httpx.Response(500, json={"error": {"type": "api_error", "message": "boom"}})
    )
    with pytest.raises(StripeUnavailable):
        await StripeProvider("sk_test_x", max_network_retries=0).create_payment(
            Money(1), purpose="htk", payer_name="x"
        )


# --- the app with Stripe configured ---------------------------------------------------------------


@pytest.fixture
async def stripe_app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(
        update={
            "stripe_api_key": SecretStr("sk_test_x"),
            "stripe_webhook_secret": SecretStr(SECRET),
        }
    )
    application = create_app(configured, clock=clock)
    application.state.payments = StripeProvider("sk_test_x", max_network_retries=0)
    yield application
    await application.state.engine.dispose()


async def deliver(client: httpx.AsyncClient, payload: bytes, header: str) -> httpx.Response:
    return await client.post(
        "/v1/payments/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def deposit_of(
    client: httpx.AsyncClient, auction_id: uuid.UUID, headers: dict[str, str]
) -> dict[str, Any]:
    answer: dict[str, Any] = (
        await client.get(f"/v1/auctions/{auction_id}/deposits", headers=headers)
    ).json()[0]
    return answer


async def test_a_stripe_deposit_is_held_once_whatever_the_order_and_repetition_of_events(
    stripe_client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    auction = await factory.auction()
    buyer = await factory.person(await factory.organization())
    with respx.mock:
        respx.post(f"{API}/v1/payment_intents").mock(
            return_value=httpx.Response(200, json=intent("pi_dep", auction.deposit_fen))
        )
        requested = await stripe_client.post(
            f"/v1/auctions/{auction.id}/deposits", json={}, headers=buyer.headers
        )
    assert requested.json()["instructions"]["client_secret"] == "pi_dep_secret_abc"
    assert requested.json()["state"] == "pending"

    authorized = signed(
        "payment_intent.amount_capturable_updated",
        intent("pi_dep", auction.deposit_fen, status="requires_capture"),
        event_id="evt_auth",
    )
    late_failure = signed(
        "payment_intent.payment_failed", intent("pi_dep", auction.deposit_fen), event_id="evt_fail"
    )
    answers = [await deliver(stripe_client, *authorized) for _ in range(5)]
    answers.append(await deliver(stripe_client, *late_failure))
    before = await deposit_of(stripe_client, auction.id, buyer.headers)
    await relay_events(sessionmaker, clock)
    await relay_events(sessionmaker, clock)
    deposit = await deposit_of(stripe_client, auction.id, buyer.headers)

    assert [a.json()["outcome"] for a in answers] == ["received"] + ["duplicate"] * 4 + ["received"]
    assert before["state"] == "pending"  # answered at once, applied by the worker
    assert (deposit["state"], deposit["paddle"]) == ("held", 1)


async def test_a_stripe_payment_is_received_once_and_booked_once(
    stripe_client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    deal_id, p = await registered_deal(stripe_client, factory)
    with respx.mock:
        respx.post(f"{API}/v1/payment_intents").mock(
            return_value=httpx.Response(
                200, json=intent("pi_pay", 25_000_000, capture_method="automatic")
            )
        )
        asked = await stripe_client.post(
            f"/v1/deals/{deal_id}/payments", json={"milestone": 1}, headers=p.buyer_owner.headers
        )
    assert asked.status_code == 201, asked.text

    succeeded = [
        signed(
            "payment_intent.succeeded",
            intent("pi_pay", 25_000_000, status="succeeded"),
            event_id=f"evt_ok_{n % 2}",
        )
        for n in range(5)
    ]
    failed_before = signed(
        "payment_intent.payment_failed", intent("pi_pay", 25_000_000), event_id="evt_failed"
    )
    cancelled_after = signed(
        "payment_intent.canceled", intent("pi_pay", 25_000_000), event_id="evt_cancel"
    )
    for payload, header in [succeeded[0], failed_before, *succeeded[1:], cancelled_after]:
        response = await deliver(stripe_client, payload, header)
        assert response.status_code == 200, response.text
    await relay_events(sessionmaker, clock)

    payments, contract = await payments_and_contract(stripe_client, deal_id, p)
    async with sessionmaker() as session:
        journals = await session.scalar(select(func.count(func.distinct(LedgerEntry.journal_id))))
    assert [x["state"] for x in payments] == ["received"]
    assert contract["state"] == "performing"
    assert contract["versions"][0]["milestones"][0]["outstanding"] == cny("0.00")
    assert journals == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("bad signature", 400, "invalid_signature"),
        ("stale", 400, "invalid_signature"),
        ("no header", 400, "invalid_signature"),
        ("unhandled type", 400, "unhandled_event"),
    ],
)
async def test_bad_webhooks_are_refused_and_change_nothing(
    stripe_client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    case: str,
    status: int,
    code: str,
) -> None:
    payload, header = signed(
        "payment_intent.succeeded", intent("pi_unknown", 1), age=600 if case == "stale" else 0
    )
    if case == "bad signature":
        header = header.replace("v1=", "v1=0")
    if case == "unhandled type":
        payload, header = signed("customer.created", {"id": "cus_1", "object": "customer"})
    headers = {} if case == "no header" else {"Stripe-Signature": header}

    response = await stripe_client.post(
        "/v1/payments/stripe/webhook", content=payload, headers=headers
    )

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert await session.scalar(select(func.count()).select_from(StripeEvent)) == 0


async def test_the_webhook_is_absent_without_stripe(client: httpx.AsyncClient) -> None:
    payload, header = signed("payment_intent.succeeded", intent("pi_x", 1))
    assert (await deliver(client, payload, header)).status_code == 404


async def test_an_event_before_our_commit_is_applied_when_the_worker_tries_again(
    stripe_client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    auction = await factory.auction()
    buyer = await factory.person(await factory.organization())
    early = signed(
        "payment_intent.amount_capturable_updated",
        intent("pi_race", auction.deposit_fen),
        event_id="evt_race",
    )
    first = await deliver(stripe_client, *early)
    await relay_events(sessionmaker, clock)  # fails: the intent is not ours yet
    with respx.mock:
        respx.post(f"{API}/v1/payment_intents").mock(
            return_value=httpx.Response(200, json=intent("pi_race", auction.deposit_fen))
        )
        await stripe_client.post(
            f"/v1/auctions/{auction.id}/deposits", json={}, headers=buyer.headers
        )
    clock.advance(timedelta(minutes=1))
    retried_by_stripe = await deliver(stripe_client, *early)
    await relay_events(sessionmaker, clock)
    deposit = await deposit_of(stripe_client, auction.id, buyer.headers)
    async with sessionmaker() as session:
        kept = await session.get(StripeEvent, "evt_race")
        failed = await session.scalar(
            select(OutboxEvent.attempts).where(OutboxEvent.topic == "stripe.event_received")
        )

    assert first.json()["outcome"] == "received"
    assert retried_by_stripe.json()["outcome"] == "duplicate"
    assert deposit["state"] == "held"
    assert kept is not None
    assert kept.outcome == "applied"
    assert failed == 1  # one try before our commit, noted on the outbox row


async def test_an_event_about_an_intent_never_ours_is_set_aside_after_three_days(
    stripe_client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    stray = signed("payment_intent.succeeded", intent("pi_other", 100), event_id="evt_stray")
    assert (await deliver(stripe_client, *stray)).json()["outcome"] == "received"
    await relay_events(sessionmaker, clock)
    clock.advance(MATCH_WINDOW + timedelta(minutes=1))
    await relay_events(sessionmaker, clock)
    async with sessionmaker() as session:
        event = await session.get(StripeEvent, "evt_stray")
        waiting = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
        payments = await session.scalar(select(func.count()).select_from(Payment))

    assert event is not None
    assert (event.outcome, event.applied_at) == ("unmatched", clock.now())
    assert waiting == 0
    assert payments == 0


@pytest.mark.skipif(not os.environ.get("STRIPE_API_KEY"), reason="needs a Stripe test-mode key")
async def test_against_stripe_itself() -> None:
    """With STRIPE_API_KEY (test mode): a real manual-capture PaymentIntent, then released."""
    provider = StripeProvider(os.environ["STRIPE_API_KEY"])
    hold = await provider.create_hold(Money(10_000), purpose="bzj", payer_name="test")
    assert hold.reference.startswith("pi_")
    await provider.release_hold(hold.reference, Money(10_000))

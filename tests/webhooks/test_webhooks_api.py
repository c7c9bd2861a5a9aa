"""Outbound webhooks end to end: a third-party app registers, subscribes, receives signed
deliveries, verifies them, acts on them through the API; retries, the delivery log, replay,
secret rotation, and who may receive what."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Organization, OrganizationKind
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from app.core.outbox import OutboxEvent
from app.webhooks import signing
from app.webhooks.tasks import send_due_webhooks
from tests.factories import MarketFactory
from tests.market import publish_listing, relay_events

HOOK = "https://erp.example.cn/hooks/techx"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def app_key(
    client: httpx.AsyncClient, factory: MarketFactory, organization: Organization
) -> dict[str, str]:
    """An API key of the organization for a third-party app, as its headers."""
    admin = await factory.person(organization, MemberRole.admin)
    created = await client.post(
        "/v1/api-keys",
        json={
            "organization_id": str(organization.id),
            "name": "企业ERP",
            "scopes": ["webhooks:write", "listings:read", "listings:write"],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], *event_types: str
) -> dict[str, Any]:
    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": HOOK, "event_types": list(event_types), "description": "ERP"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def receiver(handler: Handler) -> httpx.AsyncClient:
    """The third-party app's web server, reached by the worker's HTTP client."""
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def deliver(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock, http: httpx.AsyncClient
) -> int:
    """What the worker does: relay the outbox (which queues deliveries), then send."""
    await relay_events(sessionmaker, clock)
    return await send_due_webhooks(sessionmaker, http, clock)


async def test_a_third_party_app_subscribes_receives_verifies_and_acts(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    enterprise = await factory.organization(OrganizationKind.enterprise)
    headers = await app_key(client, factory, enterprise)
    endpoint = await subscribe(client, headers, "listing.published", "intent.registered")
    received: list[dict[str, Any]] = []

    async def erp(request: httpx.Request) -> httpx.Response:
        # The app verifies the signature before believing anything, then acts on the event.
        if not signing.verify(
            request.headers[signing.HEADER],
            request.content,
            endpoint["secret"],
            now=int(clock.now().timestamp()),
        ):
            return httpx.Response(400, text="bad signature")
        event = json.loads(request.content)
        received.append(event)
        if event["type"] == "listing.published":
            intent = await client.post(
                f"/v1/listings/{event['data']['listing_id']}/intents",
                json={"note": "ERP 自动登记意向"},
                headers=headers,
            )
            assert intent.status_code == 201, intent.text
        return httpx.Response(200, text="ok")

    listing_id = await publish_listing(client, factory)
    async with receiver(erp) as http:
        first = await deliver(sessionmaker, clock, http)
        second = await deliver(sessionmaker, clock, http)
        again = await deliver(sessionmaker, clock, http)

    log = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=headers)
    newest = log.json()["items"][0]
    detail = await client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{newest['id']}", headers=headers
    )

    assert "secret" in endpoint
    assert endpoint["secret"].startswith("whsec_")
    assert (first, second, again) == (1, 1, 0)
    assert [event["type"] for event in received] == ["listing.published", "intent.registered"]
    assert received[0]["data"] == {"listing_id": listing_id}
    assert received[1]["data"]["listing_id"] == listing_id
    assert received[1]["data"]["organization_id"] == str(enterprise.id)
    assert [d["state"] for d in log.json()["items"]] == ["succeeded", "succeeded"]
    assert "secret" not in log.text
    [attempt] = detail.json()["attempt_log"]
    assert attempt["status_code"] == 200
    assert attempt["response_excerpt"] == "ok"
    assert attempt["latency_ms"] >= 0


async def test_a_failing_receiver_is_retried_with_backoff_and_replay_sends_the_same_event(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    headers = await app_key(client, factory, await factory.organization())
    endpoint = await subscribe(client, headers, "listing.published")
    answers = iter([503, 500, 200, 200])
    seen: list[str] = []

    async def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["id"])
        return httpx.Response(next(answers))

    await publish_listing(client, factory)
    async with receiver(flaky) as http:
        await deliver(sessionmaker, clock, http)
        too_soon = await send_due_webhooks(sessionmaker, http, clock)
        clock.advance(timedelta(minutes=1))
        await send_due_webhooks(sessionmaker, http, clock)
        clock.advance(timedelta(minutes=5))
        await send_due_webhooks(sessionmaker, http, clock)
        [delivery] = (
            await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=headers)
        ).json()["items"]
        replay = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay",
            headers=headers,
        )
        await send_due_webhooks(sessionmaker, http, clock)

    assert too_soon == 0
    assert (delivery["state"], delivery["attempts"]) == ("succeeded", 3)
    assert replay.status_code == 202
    assert len(seen) == 4
    assert len(set(seen)) == 1


async def test_an_endpoint_failing_for_three_days_is_disabled_with_a_notice(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = await factory.organization()
    headers = await app_key(client, factory, organization)
    endpoint = await subscribe(client, headers, "listing.published")

    async def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await publish_listing(client, factory)
    async with receiver(down) as http:
        await deliver(sessionmaker, clock, http)
        for _ in range(12):
            clock.advance(timedelta(hours=7))
            await send_due_webhooks(sessionmaker, http, clock)

    state = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=headers)).json()
    [delivery] = (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=headers)
    ).json()["items"]
    async with sessionmaker() as session:
        notice = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.topic == "webhook_endpoint.disabled")
        )

    assert (state["state"], state["disabled_reason"]) == ("disabled", "persistent_failure")
    assert delivery["state"] == "failed"
    assert 6 <= delivery["attempts"] <= 12
    assert "ConnectError" in delivery["last_error"]
    assert notice is not None
    assert notice.payload["organization_id"] == str(organization.id)


async def test_events_about_a_deal_go_only_to_its_parties(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    buyer = await factory.organization()
    bystander = await factory.organization()
    buyer_endpoint = await subscribe(
        client, await app_key(client, factory, buyer), "intent.registered"
    )
    await subscribe(client, await app_key(client, factory, bystander), "intent.registered")
    got: list[str] = []

    async def both(request: httpx.Request) -> httpx.Response:
        got.append(request.headers["Techx-Event-Type"])
        return httpx.Response(204)

    listing_id = await publish_listing(client, factory)
    person = await factory.person(buyer)
    await client.post(f"/v1/listings/{listing_id}/intents", json={}, headers=person.headers)
    async with receiver(both) as http:
        await deliver(sessionmaker, clock, http)

    buyer_log = await client.get(
        f"/v1/webhook-endpoints/{buyer_endpoint['id']}/deliveries",
        headers=await app_key(client, factory, buyer),
    )
    assert got == ["intent.registered"]
    assert [d["event_type"] for d in buyer_log.json()["items"]] == ["intent.registered"]


async def test_a_listing_answering_a_demand_tells_the_enterprise_that_posted_it(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    enterprise = await factory.organization()
    headers = await app_key(client, factory, enterprise)
    await subscribe(client, headers, "demand.matched")
    owner = await factory.person(enterprise, MemberRole.owner)
    matching = await client.post(
        "/v1/demands",
        json={
            "title": "寻求钕铁硼永磁材料晶界扩散技术",
            "description": "提高烧结钕铁硼磁体矫顽力的晶界扩散工艺。",
            "field_code": "new_materials",
            "division_code": "150102",
            "organization_id": str(enterprise.id),
        },
        headers=owner.headers,
    )
    await client.post(
        "/v1/demands",
        json={
            "title": "寻求马铃薯脱毒种薯繁育技术",
            "description": "脱毒种薯组培快繁工艺。",
            "field_code": "agriculture",
            "division_code": "150102",
            "organization_id": str(enterprise.id),
        },
        headers=owner.headers,
    )
    told: list[dict[str, Any]] = []

    async def erp(request: httpx.Request) -> httpx.Response:
        told.append(json.loads(request.content))
        return httpx.Response(200)

    listing_id = await publish_listing(client, factory)
    async with receiver(erp) as http:
        await deliver(sessionmaker, clock, http)  # the relay records demand.matched …
        await deliver(sessionmaker, clock, http)  # … which the next relay sends

    assert matching.status_code == 201, matching.text
    assert [event["type"] for event in told] == ["demand.matched"]
    assert told[0]["data"] == {
        "demand_id": matching.json()["id"],
        "organization_id": str(enterprise.id),
        "listing_id": listing_id,
    }


async def test_a_rotated_secret_signs_with_both_until_the_old_one_expires(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    headers = await app_key(client, factory, await factory.organization())
    endpoint = await subscribe(client, headers, "listing.published")
    rotated = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"previous_secret_valid_hours": 1},
        headers=headers,
    )
    signatures: list[tuple[str, bytes]] = []

    async def keep(request: httpx.Request) -> httpx.Response:
        signatures.append((request.headers[signing.HEADER], request.content))
        return httpx.Response(200)

    await publish_listing(client, factory)
    async with receiver(keep) as http:
        await deliver(sessionmaker, clock, http)
        clock.advance(timedelta(hours=2))
        await publish_listing(client, factory)
        await deliver(sessionmaker, clock, http)

    old, new = endpoint["secret"], rotated.json()["secret"]
    (during, body), (after, later_body) = signatures
    now = int(clock.now().timestamp())
    assert new != old
    assert during.count("v1=") == 2
    assert after.count("v1=") == 1
    assert signing.verify(during, body, old, now=now - 7200)
    assert signing.verify(during, body, new, now=now - 7200)
    assert signing.verify(after, later_body, new, now=now)
    assert not signing.verify(after, later_body, old, now=now)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://erp.example.cn/hooks", "webhook_url_not_https"),
        ("https://127.0.0.1/hooks", "webhook_url_private"),
        ("https://10.1.2.3/hooks", "webhook_url_private"),
        ("https://localhost/hooks", "webhook_url_private"),
    ],
)
async def test_an_endpoint_must_be_https_on_a_public_host(
    client: httpx.AsyncClient, factory: MarketFactory, url: str, code: str
) -> None:
    headers = await app_key(client, factory, await factory.organization())

    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": ["listing.published"]},
        headers=headers,
    )

    assert created.status_code == 422
    assert created.json()["errors"][0] == {
        "field": "body.url",
        "code": code,
        "message": created.json()["errors"][0]["message"],
    }


def test_a_signature_fails_for_another_body_secret_or_an_old_timestamp() -> None:
    body = b'{"id":"e1","type":"listing.published"}'
    header = signing.signature_header(body, ["whsec_a"], 1_800_000_000)

    assert signing.verify(header, body, "whsec_a", now=1_800_000_000)
    assert not signing.verify(header, body + b" ", "whsec_a", now=1_800_000_000)
    assert not signing.verify(header, body, "whsec_b", now=1_800_000_000)
    assert not signing.verify(header, body, "whsec_a", now=1_800_000_000 + 301)
    assert not signing.verify("v1=abc", body, "whsec_a", now=1_800_000_000)


def test_the_readme_snippet_verifies_our_signatures() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = readme.split("## Verifying a webhook", 1)[1].split("```python", 1)[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own README, checked as a receiver would run it
    body = b'{"id":"e1","type":"listing.published"}'
    header = signing.signature_header(body, ["whsec_new", "whsec_old"], int(time.time()))

    assert namespace["verify"](header, body, "whsec_old")
    assert not namespace["verify"](header, body + b"x", "whsec_old")

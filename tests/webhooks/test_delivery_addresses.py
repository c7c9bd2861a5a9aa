"""A delivery reaches only a public address, checked when it is sent: a host that resolved to a
public address at registration and to our own network later (DNS rebinding) is refused, with a
resolver the test controls; the address checked is the one connected to."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import FrozenClock
from app.webhooks.addresses import PublicAddressTransport
from tests.factories import MarketFactory
from tests.market import publish_listing
from tests.webhooks.test_webhooks_api import app_key, deliver, subscribe

PUBLIC = "93.184.216.34"


class Resolver:
    """DNS as the test says: each lookup of a name answers the next of its addresses."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_a_host_rebound_to_our_network_is_refused_at_send_time(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    headers = await app_key(client, factory, await factory.organization())
    endpoint = await subscribe(client, headers, "listing.published")
    reached: list[httpx.Request] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        reached.append(request)
        return httpx.Response(200)

    resolver = Resolver([PUBLIC], ["127.0.0.1"])
    transport = PublicAddressTransport(httpx.MockTransport(receiver), resolver)
    async with httpx.AsyncClient(transport=transport) as http:
        await publish_listing(client, factory)
        await deliver(sessionmaker, clock, http)  # resolves publicly: delivered
        await publish_listing(client, factory)
        await deliver(sessionmaker, clock, http)  # rebound to loopback: refused
    deliveries = (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=headers)
    ).json()["items"]

    [first] = reached
    assert first.url.host == PUBLIC  # the checked address is the one connected to
    assert first.headers["Host"] == "erp.example.cn"
    assert first.extensions["sni_hostname"] == "erp.example.cn"
    assert resolver.asked == [("erp.example.cn", 443)] * 2
    assert sorted(d["state"] for d in deliveries) == ["pending", "succeeded"]
    refused = next(d for d in deliveries if d["state"] == "pending")
    assert "not public: 127.0.0.1" in refused["last_error"]


@pytest.mark.parametrize(
    "addresses", [["10.0.0.5"], [PUBLIC, "169.254.169.254"], ["::1"], ["fd00::1"], []]
)
async def test_any_address_not_public_refuses_the_host(addresses: list[str]) -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    transport = PublicAddressTransport(httpx.MockTransport(receiver), Resolver(addresses))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ConnectError, match="not public"):
            await http.post("https://erp.example.cn/hooks", content=b"{}")

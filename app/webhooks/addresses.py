"""Where deliveries may go: public addresses only, checked when the delivery is sent.

A URL is checked when its endpoint is registered (`service._check_url`), but a name can be
made to resolve elsewhere afterwards (DNS rebinding: public at registration, 127.0.0.1 or
10.0.0.5 at delivery). So the delivery client resolves the name itself, refuses it when any
address it resolves to is not public, and connects to the address it checked — the name still
in the `Host` header and in TLS (SNI and the certificate check) — so no second lookup can
answer differently (OWASP API7:2023, server-side request forgery).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""A name and port → the addresses they resolve to."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class PublicAddressTransport(httpx.AsyncBaseTransport):
    """Sends through `inner` to the checked address of each request's host; a host that is or
    resolves to a private, loopback, link-local or otherwise non-public address is refused
    with `httpx.ConnectError` (an attempt that failed, retried on the delivery's schedule)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, resolve: Resolve = system_resolve):
        self.inner = inner
        self.resolve = resolve

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a) for a in await self.resolve(host, port)]
            except OSError as error:
                raise httpx.ConnectError(f"{host} does not resolve: {error}") from error
        refused = [str(a) for a in addresses if not a.is_global]
        if not addresses or refused:
            raise httpx.ConnectError(
                f"{host} resolves to an address that is not public: {', '.join(refused)}"
            )
        pinned = request.url.copy_with(host=str(addresses[0]))
        request.url = pinned
        request.headers["Host"] = request.headers.get("Host", host)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

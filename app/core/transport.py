"""uvicorn's HTTP protocol with a response's writes coalesced: its head and body leave in one
`send()` (one TCP segment for a small response), not two.

uvicorn's httptools protocol writes the status line and headers when the app sends
`http.response.start`, and the body when it sends `http.response.body` — two system calls
and, with TCP_NODELAY, two segments for every response, the client reading twice. On a bid
that was the largest single entry of the API process's profile. aiohttp coalesces the same
way (aio-libs/aiohttp#10991). Writes made in one turn of the event loop are joined and sent
at the end of it, so a response sent in one go (every JSON answer) is one write, and a
streamed one (SSE, exports) is still sent as it comes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes within one turn of the loop are sent together at its end;
    closing sends what is held first. Everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self._send_held)
        else:
            self._held.append(bytes(data))

    def _send_held(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport` (`uvicorn.run(http=...)`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

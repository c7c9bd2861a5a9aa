"""A response's writes coalesced (`app/core/transport.py`): uvicorn's protocol over a
transport recording what reaches the socket, and the protocol serving for real."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from app.core.transport import HOLD_BYTES, CoalescingHttpProtocol

BODY = b'{"status":"ok"}'
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class SocketTransport(asyncio.Transport):
    """What the event loop's transport would send, in the order it would send it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes | str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        assert not self.closing, "written after close"
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.sent.append("closed")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def constant(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def connected(app: Any) -> tuple[CoalescingHttpProtocol, SocketTransport]:
    config = uvicorn.Config(app, http=CoalescingHttpProtocol, lifespan="off", access_log=False)
    config.load()
    protocol = CoalescingHttpProtocol(config, ServerState(), {})
    transport = SocketTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def sent_after(
    request: bytes, protocol: CoalescingHttpProtocol, transport: SocketTransport, writes: int
) -> list[bytes | str]:
    """What reached the socket once `request` has had `writes` writes (or a close) answered."""
    protocol.data_received(request)
    await until(lambda: len(transport.sent) >= writes)
    return transport.sent


async def until(condition: Any) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_a_response_leaves_in_one_write() -> None:
    protocol, transport = connected(constant)

    [response] = await sent_after(REQUEST, protocol, transport, writes=1)
    assert isinstance(response, bytes)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\n" + BODY)


async def test_two_requests_on_one_connection_are_answered_in_turn() -> None:
    protocol, transport = connected(constant)

    await sent_after(REQUEST, protocol, transport, writes=1)
    sent = await sent_after(REQUEST, protocol, transport, writes=2)

    assert len(sent) == 2
    assert all(isinstance(r, bytes) and r.endswith(BODY) for r in sent)


async def test_a_closing_connection_sends_the_response_before_it_closes() -> None:
    protocol, transport = connected(constant)

    closing = REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    response, closed = await sent_after(closing, protocol, transport, writes=2)
    assert isinstance(response, bytes)
    assert response.endswith(BODY)
    assert closed == "closed"


async def test_a_streamed_response_is_sent_as_it_comes() -> None:
    second = asyncio.Event()

    async def streamed(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await second.wait()
        await send({"type": "http.response.body", "body": b"data: 2\n\n"})

    protocol, transport = connected(streamed)

    [first] = await sent_after(REQUEST, protocol, transport, writes=1)
    assert isinstance(first, bytes)
    assert first.endswith(b"data: 1\n\n\r\n")
    second.set()
    await until(lambda: len(transport.sent) == 2)
    assert transport.sent[1] == b"9\r\ndata: 2\n\n\r\n0\r\n\r\n"


async def test_a_large_body_is_sent_without_waiting_for_the_turn_to_end() -> None:
    large = b"x" * HOLD_BYTES
    seen_while_sending: list[int] = []

    async def exporting(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", str(2 * len(large)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": large, "more_body": True})
        # No turn of the loop since: only a write made at once has reached the socket.
        seen_while_sending.append(len(transport.sent))
        await send({"type": "http.response.body", "body": large})

    protocol, transport = connected(exporting)

    head_and_first, second = await sent_after(REQUEST, protocol, transport, writes=2)
    assert seen_while_sending == [1]
    assert isinstance(head_and_first, bytes)
    assert head_and_first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head_and_first.endswith(large)
    assert second == large


async def test_served_for_real() -> None:
    config = uvicorn.Config(
        constant, host="127.0.0.1", port=0, http=CoalescingHttpProtocol, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [await client.get("/") for _ in range(3)]
    finally:
        server.should_exit = True
        await serving

    assert [(a.status_code, a.content) for a in answers] == [(200, BODY)] * 3

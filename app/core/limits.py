"""Refuse request bodies over the configured size before they are read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PayloadTooLarge, send_problem
from app.core.i18n import negotiate_locale


class BodySizeLimitMiddleware:
    """Bodies over `max_bytes` get 413; multipart uploads (file imports) may reach
    `max_upload_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if is_upload else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await self._refuse(scope, headers, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            await self.app(scope, receive, send)
            return

        # A chunked body has no Content-Length: read it (up to the limit) before the app does,
        # so an oversized one is refused here and never half-parsed by the route.
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > limit:
                await self._refuse(scope, headers, send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, headers: dict[bytes, bytes], send: Send, limit: int
    ) -> None:
        locale = negotiate_locale(headers.get(b"accept-language", b"").decode("latin-1"))
        # Close the connection: the rest of the body is never read.
        error = PayloadTooLarge(limit=limit, headers={"Connection": "close"})
        await send_problem(send, error, locale, scope["path"])

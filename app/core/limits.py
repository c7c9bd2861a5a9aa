"""Limits on what a request may carry: bodies over the configured size are refused before they
are read into memory; text PostgreSQL cannot store (U+0000) is refused with a 422."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PayloadTooLarge, ValidationFailed, send_problem
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


def _nul_path(value: Any, path: list[str]) -> list[str] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(key, path) or _nul_path(item, [*path, str(key)])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, [*path, str(index)])
            if found:
                return found
    return None


async def refuse_nul_characters(request: Request) -> None:
    """PostgreSQL text cannot hold U+0000: input carrying one is refused with a 422 naming
    where it is, instead of failing in the database as a 500."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if "\x00" in str(value):
            raise ValidationFailed(f"query.{name}", "nul_character")
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # The route has parsed the form already (the stream is spent): read its result.
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and ("\x00" in value or "\x00" in name):
                raise ValidationFailed(f"body.{name}", "nul_character")
        return
    body = await request.body()
    if b"\\u0000" not in body and b"\x00" not in body:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own parsing answers
    found = _nul_path(data, ["body"])
    if found:
        raise ValidationFailed(".".join(found), "nul_character")

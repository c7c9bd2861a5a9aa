"""Limits on what a request may carry: bodies over the configured size are refused before they
are read into memory; text PostgreSQL cannot store (U+0000) is refused with a 422."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import DomainError, PayloadTooLarge, ValidationFailed, send_problem
from app.core.i18n import current_locale


class RequestLimitsMiddleware:
    """What a request may carry, checked before routing: bodies over `max_bytes` get 413
    (multipart uploads — file imports — may reach `max_upload_bytes`); U+0000 in the path, the
    query, a JSON or a form body gets a 422 naming where it is. A request without either pays
    a few header comparisons."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul_field = _nul_in_target(scope)
        if nul_field is not None:
            await _refuse(scope, send, ValidationFailed(nul_field, "nul_character"))
            return
        content_type = declared = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        is_upload = content_type is not None and content_type.startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if is_upload else self.max_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse_size(scope, send, limit)
            return
        if (
            scope["method"] not in BODY_METHODS
            or (declared is None and scope["method"] == "DELETE")
            # Files may hold any byte; an upload's text fields are ids and choices that
            # validation refuses anyway. Only its size is checked (a chunked one as it comes).
            or (is_upload and declared is not None)
        ):
            await self.app(scope, receive, send)
            return

        # Read the body (up to the limit) before the app does: an oversized one is refused
        # here and never half-parsed by the route, and its text can be checked for U+0000.
        messages: list[Message] = []
        received = 0
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await self._refuse_size(scope, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if not is_upload:
            nul_field = _nul_in_body(b"".join(chunks), content_type or b"")
            if nul_field is not None:
                await _refuse(scope, send, ValidationFailed(nul_field, "nul_character"))
                return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse_size(self, scope: Scope, send: Send, limit: int) -> None:
        # Close the connection: the rest of the body is never read.
        await _refuse(scope, send, PayloadTooLarge(limit=limit, headers={"Connection": "close"}))


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _refuse(scope: Scope, send: Send, error: DomainError) -> None:
    await send_problem(send, error, current_locale.get(), scope["path"])


def _nul_in_target(scope: Scope) -> str | None:
    """The field holding U+0000 in the path or the query, if any."""
    if "\x00" in scope["path"]:
        return "path"
    return _nul_in_form(scope.get("query_string", b""), "query")


def _nul_in_form(encoded: bytes, part: str) -> str | None:
    """The field of a form-encoded query or body holding U+0000 (`query.q`, `body.username`),
    or the part itself when a name holds it: a field named in a problem never carries U+0000."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return None
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name:
            return part
        if "\x00" in value:
            return f"{part}.{name}"
    return None


def _nul_in_body(body: bytes, content_type: bytes) -> str | None:
    """The field of a JSON or form body holding U+0000, if any (PostgreSQL text cannot)."""
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return _nul_in_form(body, "body")
    if b"\\u0000" not in body and b"\x00" not in body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers
    found = _nul_path(data, ["body"])
    return ".".join(found) if found else None


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

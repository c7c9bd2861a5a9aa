"""Per-client rate limits (fixed one-minute windows), with RateLimit-* headers.

This is the in-memory store of the embedded default: one process, one count. Shared storage
for several API processes comes with the hardening issue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request, Response

from app.core.errors import DomainError


class RateLimited(DomainError):
    status, code = 429, "rate_limited"
    detail_code = "detail.rate_limited"


class RateLimit:
    """A dependency allowing a number of requests a minute per client for one class of routes;
    the number is the setting `rate_limits[route_class]`, the counts live on the app."""

    def __init__(self, route_class: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.route_class = route_class
        self.clock = clock

    def _client(self, request: Request) -> str:
        credential = request.headers.get("authorization")
        if credential:
            return "credential:" + credential[-16:]
        return "address:" + (request.client.host if request.client else "unknown")

    async def __call__(self, request: Request, response: Response) -> None:
        per_minute = request.app.state.settings.rate_limits.get(self.route_class, 600)
        all_windows: dict[str, dict[str, tuple[int, int]]] = request.app.state.rate_windows
        windows = all_windows.setdefault(self.route_class, {})
        now = self.clock()
        window = int(now // 60)
        client = self._client(request)
        current, count = windows.get(client, (window, 0))
        if current != window:
            current, count = window, 0
        count += 1
        windows[client] = (current, count)
        if len(windows) > 100_000:  # forget old windows rather than grow without bound
            all_windows[self.route_class] = {k: v for k, v in windows.items() if v[0] == window}
        reset = max(1, math.ceil((window + 1) * 60 - now))
        headers = {
            "RateLimit-Limit": str(per_minute),
            "RateLimit-Remaining": str(max(0, per_minute - count)),
            "RateLimit-Reset": str(reset),
        }
        if count > per_minute:
            raise RateLimited(headers={**headers, "Retry-After": str(reset)}, limit=per_minute)
        response.headers.update(headers)

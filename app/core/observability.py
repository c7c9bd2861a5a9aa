"""Logs, request ids and metrics.

Every log line, ours or a library's through stdlib logging, carries the request id bound in
`RequestContextMiddleware`; the same id is echoed in the `X-Request-ID` response header so a
client's report can be matched to the server's lines.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any, TextIO

import structlog
from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import audit
from app.core.errors import InternalError, send_problem
from app.core.i18n import current_locale, negotiate_locale

REQUEST_ID_HEADER = "x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestFigures:
    """`techx_http_requests_total` and `techx_http_request_duration_seconds`: kept as plain
    numbers, handed to Prometheus when it scrapes (a collector). prometheus_client's own
    children take a lock for every sample and walk the histogram's bounds in Python, ~2 µs a
    request (2 % of a listing read's CPU under wrk); here a request adds to two dicts.

    Only the event loop's thread adds to them, and a scrape copies each entry before reading it
    (a copy is one step under the GIL): it may see a request counted whose duration is not yet,
    never a figure half-written."""

    def __init__(self, bounds: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> None:
        self.bounds = tuple(bound for bound in bounds if bound != math.inf)
        self.answered: dict[tuple[str, str, int], int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}
        """By method and route: how many answers took at most each bound (each counted under
        the first bound it is within; the last place, above them all), then their seconds."""

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answer and how long it took."""
        key = (method, route, status)
        self.answered[key] = self.answered.get(key, 0) + 1
        durations = self.durations.get((method, route))
        if durations is None:
            durations = self.durations[method, route] = [0.0] * (len(self.bounds) + 2)
        durations[bisect_left(self.bounds, seconds)] += 1
        durations[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        answered = CounterMetricFamily(
            "techx_http_requests", "HTTP requests answered", labels=["method", "route", "status"]
        )
        for (method, route, status), count in self.answered.copy().items():
            answered.add_metric([method, route, str(status)], count)
        yield answered
        durations = HistogramMetricFamily(
            "techx_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels=["method", "route"],
        )
        bounds = [*map(floatToGoString, self.bounds), "+Inf"]
        for (method, route), figures in self.durations.copy().items():
            figures = figures.copy()
            durations.add_metric(
                [method, route],
                list(zip(bounds, accumulate(figures[:-1]), strict=True)),
                sum_value=figures[-1],
            )
        yield durations


REQUEST_FIGURES = RequestFigures()
REGISTRY.register(REQUEST_FIGURES)


def configure_logging(
    *, json_lines: bool, level: str = "INFO", stream: TextIO | None = None
) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            # Drop below-level events before any work is spent on them.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware logs each request with its id; uvicorn's access line would lack it.
    logging.getLogger("uvicorn.access").disabled = True
    # pgserver narrates every pg_ctl call at INFO.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


_NOSNIFF = (b"x-content-type-options", b"nosniff")
"""On every answer: browsers take the declared content type, never a guessed one."""
_NO_STORE = (b"cache-control", b"no-store")
"""On every answer to a request with credentials (OWASP API8:2023, security misconfiguration)."""


class RequestContextMiddleware:
    """Binds request id and locale for the request, logs it, counts it in the metrics.

    It runs on every request, so it reads only the two headers it needs and counts in plain
    numbers (`RequestFigures`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("techx.request")
        self._request_lines = logging.getLogger("techx.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = accept_language = None
        authenticated = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value.decode("latin-1")
            elif name == b"accept-language":
                accept_language = value.decode("latin-1")
            elif name == b"authorization":
                authenticated = True
        # 128 random bits as 32 hex digits, as a UUID's hex would be, at a fifth of its cost.
        request_id = (
            offered if offered and _CLIENT_REQUEST_ID.match(offered) else os.urandom(16).hex()
        )
        locale = negotiate_locale(accept_language)
        locale_token = current_locale.set(locale)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()
        response_started = False
        extra = [(b"x-request-id", request_id.encode()), (b"content-language", locale.encode())]

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message["headers"]
                added = [extra[0], _NOSNIFF]
                if not any(key.lower() == b"content-language" for key, _ in headers):
                    added.append(extra[1])
                if authenticated:
                    # Whatever a route allows caches to keep, nobody's own data is kept.
                    headers = [
                        (key, value) for key, value in headers if key.lower() != b"cache-control"
                    ]
                    added.append(_NO_STORE)
                message["headers"] = [*headers, *added]
            await send(message)

        client = scope.get("client")
        try:
            with audit.in_request(request_id, client[0] if client else "unknown"):
                await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug: log it with the request id and answer a problem document that carries the
            # id too, rather than Starlette's bare text 500.
            self.log.exception("unhandled_error")
            if not response_started:
                await send_problem(send_with_id, InternalError(), locale, scope["path"])
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            REQUEST_FIGURES.add(method, template, status, elapsed)
            if self._request_lines.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            current_locale.reset(locale_token)

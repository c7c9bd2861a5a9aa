"""create_app(): routers, middleware, error handlers, lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.datastructures import State

from app.accounts import service as accounts_service
from app.accounts import totp
from app.accounts.principals import PrincipalCache
from app.accounts.router import auth_router
from app.accounts.router import router as accounts_router
from app.accounts.throttle import SignInThrottle
from app.auctions.live import LiveEvents
from app.auctions.router import router as auctions_router
from app.audit.router import router as audit_router
from app.brokers.router import router as rewards_router
from app.challenges.router import proposals_router, sheet_router
from app.challenges.router import router as challenges_router
from app.challenges.router import search_router as challenge_search_router
from app.core.clock import Clock, SandboxClock, SystemClock
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.errors import document_common_problems, install_error_handlers
from app.core.health import router as health_router
from app.core.idempotency import install_replay_handler
from app.core.limits import RequestLimitsMiddleware
from app.core.observability import RequestContextMiddleware
from app.core.openapi import document_input_rules
from app.core.ratelimit import WriteRateLimitMiddleware, counters_for, own_class_routes
from app.core.reads import ReadPool
from app.core.sealing import Sealer
from app.deals.router import registrations_router
from app.deals.router import router as deals_router
from app.demands.router import router as demands_router
from app.listings.router import router as listings_router
from app.operations.router import router as operations_router
from app.payments.providers import provider_for
from app.payments.router import router as payments_router
from app.results.router import router as results_router
from app.sandbox.follower import ClockFollower
from app.sandbox.router import router as sandbox_router
from app.stats.router import router as stats_router
from app.tax.router import evidence_router
from app.tax.router import router as tax_router
from app.webhooks.router import router as webhooks_router
from search.backend import SearchUnavailable
from search.router import router as search_router
from search.service import backend_for

logger = structlog.get_logger(__name__)

DESCRIPTION = """
The API of a technology-transaction marketplace (技术交易市场): universities and institutes
list results, enterprises find and acquire them, brokers are rewarded, contracts are
registered and tax reductions filed.

**Authentication.** People: `POST /v1/auth/token` (OAuth2 password flow) gives a short access
token and a refresh token. Apps: an API key (`tx_…`) made by an organization's admin. Both go in
`Authorization: Bearer …`.

**Errors** are `application/problem+json` (RFC 9457) with a stable `code` and, for bad fields,
`errors[]` naming each field. **Language**: `Accept-Language: zh-CN` (default) or `en`.
**Money** is `{"amount": "12345.67", "currency": "CNY"}`. **Lists** are cursor-paginated:
pass `next_cursor` back as `cursor`.
"""


TAGS = ["operations", "auth", "users", "organizations", "api-keys", "brokers", "results",
        "taxonomy", "listings", "auctions", "deals", "payments", "rewards", "tax", "search",
        "demands", "challenges", "webhooks", "statistics", "audit", "sandbox"]  # fmt: skip
"""The OpenAPI document's sections, in the order a newcomer meets them (the market's
lifecycle), whatever order the routers are matched in."""


HOT_ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/v1/search/listings"),
    ("GET", "/v1/listings/{listing_id}"),
    ("GET", "/v1/me"),
    ("POST", "/v1/auctions/{auction_id}/bids"),
    ("GET", "/v1/auctions/{auction_id}"),
]
"""The most requested routes, tried first: every route tried before the one that answers
costs about a microsecond."""


class AppState(State):
    """`app.state` whose values are the object's own attributes as well: the clock, the pools
    and the settings are read several times a request, and Starlette's `State` finds them
    only in `__getattr__`, after a failed look-up has formatted an AttributeError (~15 a bid,
    a percent of its time)."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        object.__delattr__(self, name)


def serve_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """Put the routers' routes in the app's own table: the hot ones first, then the others in
    the routers' order, then the document's own pages (`/openapi.json`, `/docs`).

    `include_router` keeps each router as a branch of its own: a request is matched against a
    branch's routes to learn whether it holds the path, then again to pick the route, so a
    request for a late router paid about a microsecond for every route before it and two for
    its own (~40 µs for `/v1/me`). Our routers carry their prefix, tags, responses and
    dependencies in their routes already (nothing is added when they are included), so one flat
    table serves and documents the same API, each route tried once. No path is answered by two
    routes, so the order changes only how soon each is found (`tests/test_route_table.py`)."""
    pages = list(app.router.routes)
    routes = [route for router in routers for route in router.routes]
    hot = [
        route
        for method, path in HOT_ROUTES
        for route in routes
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ())
    ]
    app.router.routes[:] = [*hot, *(route for route in routes if route not in hot), *pages]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (techx serve starts the embedded database)")
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    follower: ClockFollower | None = None
    if settings.sandbox:
        clock = clock or SandboxClock()
        if not isinstance(clock, SandboxClock):
            raise TypeError("a sandbox runs on a SandboxClock")
        follower = ClockFollower(settings.database_url, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if follower is not None:
            # Before the first request: every answer carries the platform's shared time.
            await follower.start()
        await principal_cache.start()
        try:
            # Index settings are code: applied at every start (idempotent).
            await app.state.search.configure()
        except SearchUnavailable:
            # Serve anyway: the marketplace works without search, and sync catches up.
            logger.warning("search_not_configured")
        # What exists now lives as long as the process: keep the garbage collector from
        # scanning it again at every full collection (they cost the long tail of latency).
        gc.freeze()
        yield
        await app.state.http.aclose()
        await app.state.live.close()
        await principal_cache.stop()
        await app.state.reads.close()
        if follower is not None:
            await follower.stop()
        await engine.dispose()

    app = FastAPI(
        title="techexchange",
        version="0.1.0",
        summary="技术交易市场 API",
        description=DESCRIPTION,
        openapi_tags=[{"name": tag} for tag in TAGS],
        lifespan=lifespan,
        # Metrics are Prometheus's (`/metrics`); FastAPI's OpenTelemetry bridge would look for
        # configured providers in the environment on every request, and there are none.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state = AppState()
    app.state.settings = settings
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_input_rules(document_common_problems(generate_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.engine = engine
    app.state.reads = ReadPool(engine)
    app.state.clock = clock or SystemClock()
    signing_key = settings.signing_key()
    principal_cache = PrincipalCache(
        settings.database_url,
        partial(accounts_service.resolve_principal, signing_key=signing_key),
        seconds=settings.principal_cache_seconds,
    )
    app.state.principals = principal_cache
    app.state.resolve_principal = principal_cache.resolve
    app.state.known_principal = principal_cache.known
    app.state.sessionmaker = create_sessionmaker(
        engine, app.state.clock, principals=principal_cache
    )
    sign_in_throttle = SignInThrottle(app.state.sessionmaker)
    app.state.sign_in_throttle = sign_in_throttle
    app.state.api_key_refused = sign_in_throttle.failed
    app.state.search = backend_for(settings, app.state.sessionmaker, app.state.reads)
    app.state.rate_counters = counters_for(settings.rate_limit_storage, app.state.reads)
    app.state.live = LiveEvents(settings.database_url)
    app.state.payments = provider_for(settings)
    # One client for calls to outside services (tax filing endpoint), closed at shutdown.
    app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(20.0))
    app.state.signing_key = signing_key
    app.state.totp_sealer = Sealer(signing_key, totp.SEALING_PURPOSE)
    app.state.token_settings = accounts_service.TokenSettings(
        signing_key=signing_key,
        access_ttl=timedelta(seconds=settings.access_token_seconds),
        refresh_ttl=timedelta(seconds=settings.refresh_token_seconds),
    )

    install_error_handlers(app)
    install_replay_handler(app)
    # Innermost first: the outermost binds the request id and locale every answer carries.
    app.add_middleware(WriteRateLimitMiddleware)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        # Closed unless configured: browsers on other sites may call the API only from the
        # origins named, and only with bearer credentials (no cookies are used).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Accept-Language"],
            expose_headers=[
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
                "Idempotent-Replayed",
            ],
            max_age=600,
        )

    # Routes are matched one by one in this order, so the most requested come first: the
    # probes, search, listings and who-am-I. The document keeps the order of TAGS.
    routers = [health_router, search_router, listings_router, accounts_router, auth_router,
               auctions_router, results_router, deals_router, registrations_router,
               payments_router, rewards_router, tax_router, evidence_router, demands_router,
               challenges_router, proposals_router, sheet_router, challenge_search_router,
               webhooks_router,
               stats_router, audit_router, operations_router]  # fmt: skip
    if settings.sandbox:
        routers.append(sandbox_router)
    serve_routes(app, routers)
    app.state.own_class_routes = own_class_routes(app.routes)
    return app

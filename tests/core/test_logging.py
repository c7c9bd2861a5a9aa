"""Every log line written while serving a request carries that request's id, and no secret
is ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from app.core.auth import MemberRole
from app.core.observability import configure_logging
from tests.factories import MarketFactory


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(json_lines=True, level="INFO", stream=stream)
    yield stream
    logging.getLogger().handlers[:] = []
    structlog.reset_defaults()


async def test_our_lines_and_library_lines_carry_the_request_id(
    app: FastAPI, client: httpx.AsyncClient, json_logs: io.StringIO
) -> None:
    @app.get("/test/log")
    async def log_something() -> dict[str, str]:
        logging.getLogger("some.library").warning("a library speaks")
        structlog.get_logger("techx.test").info("we speak")
        return {}

    await client.get("/test/log", headers={"X-Request-ID": "trace-42"})

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    events = {line["event"]: line for line in lines}
    assert {"a library speaks", "we speak", "request"} <= set(events)
    assert all(
        events[name]["request_id"] == "trace-42"
        for name in ("a library speaks", "we speak", "request")
    )


async def test_secrets_never_reach_the_logs(
    client: httpx.AsyncClient, factory: MarketFactory, json_logs: io.StringIO
) -> None:
    """Passwords, tokens, API keys and webhook secrets pass through requests and answers; none
    may be written to a log line, at any level we run."""
    password = "Log-secret-pass-2026"
    await client.post(
        "/v1/users",
        json={"email": "logs@example.cn", "password": password, "display_name": "日志"},
    )
    tokens = (
        await client.post(
            "/v1/auth/token", data={"username": "logs@example.cn", "password": password}
        )
    ).json()
    await client.post(
        "/v1/auth/token", data={"username": "logs@example.cn", "password": password + "x"}
    )
    organization = await factory.organization()
    admin = await factory.person(organization, MemberRole.admin)
    key = (
        await client.post(
            "/v1/api-keys",
            json={
                "organization_id": str(organization.id),
                "name": "ERP",
                "scopes": ["webhooks:write"],
            },
            headers=admin.headers,
        )
    ).json()["key"]
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://erp.example.cn/hooks", "event_types": ["deal.opened"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    await client.get("/v1/me", headers={"Authorization": "Bearer not-a-token"})

    logged = json_logs.getvalue()
    secrets = [
        password,
        tokens["access_token"],
        tokens["refresh_token"],
        key,
        endpoint.json()["secret"],
        admin.token,
    ]
    assert "request" in logged  # the requests were logged …
    assert [secret for secret in secrets if secret in logged] == []  # … their secrets not

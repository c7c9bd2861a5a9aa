"""Authenticated request cost: how long resolving a credential and answering takes.

Runs the real app (ASGI, no network) on an embedded PostgreSQL in a scratch directory and
prints one JSON object: per-request latency of `GET /v1/me` with an access token, of
`GET /v1/organizations` with an API key, and of a password sign-in (argon2).
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from app.cli import run_migrations
from app.core.config import Settings
from app.core.embedded import embedded_database_url, start_embedded_postgres
from app.core.observability import configure_logging
from app.main import create_app

ROUNDS = 400
SIGN_INS = 20


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "per_second": round(len(ordered) / sum(ordered), 1),
    }


async def _measure(url: str) -> dict[str, object]:
    settings = Settings(database_url=url, secret_key=SecretStr("bench-" + "k" * 40))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await client.post(
            "/v1/users",
            json={"email": "bench@example.cn", "password": "Bench-pass-2026", "display_name": "b"},
        )
        credentials = {"username": "bench@example.cn", "password": "Bench-pass-2026"}
        token = (await client.post("/v1/auth/token", data=credentials)).json()["access_token"]
        person = {"Authorization": f"Bearer {token}"}
        organization = await client.post(
            "/v1/organizations",
            json={
                "kind": "enterprise",
                "name": "基准测试企业",
                "credit_code": "91110000600037341L",
                "division_code": "150102",
            },
            headers=person,
        )
        key = await client.post(
            "/v1/api-keys",
            json={
                "organization_id": organization.json()["id"],
                "name": "bench",
                "scopes": ["organizations:read"],
            },
            headers=person,
        )
        app_headers = {"Authorization": f"Bearer {key.json()['key']}"}

        async def timed(call: Callable[[], Awaitable[httpx.Response]], rounds: int) -> list[float]:
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                response = await call()
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            return samples

        me = await timed(lambda: client.get("/v1/me", headers=person), ROUNDS)
        listed = await timed(lambda: client.get("/v1/organizations", headers=app_headers), ROUNDS)
        sign_in = await timed(lambda: client.post("/v1/auth/token", data=credentials), SIGN_INS)
    await app.state.engine.dispose()
    return {
        "me_with_access_token": _figures(me),
        "organizations_with_api_key": _figures(listed),
        "password_sign_in": _figures(sign_in),
    }


def main() -> None:
    configure_logging(json_lines=True, level="WARNING")
    with tempfile.TemporaryDirectory(prefix="techx-bench-") as directory:
        server = start_embedded_postgres(Path(directory), cleanup="delete")
        url = embedded_database_url(server, "bench")
        run_migrations(url)
        figures = asyncio.run(_measure(url))
        server.cleanup()
    print(
        json.dumps(
            {
                "benchmark": "auth_requests",
                "date": datetime.now(UTC).date().isoformat(),
                "machine": f"{platform.machine()} {platform.python_version()}",
                "rounds": ROUNDS,
                **figures,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()

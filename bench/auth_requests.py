"""Authenticated request cost: how long resolving a credential and answering takes.

Prints one JSON object: per-request latency of `GET /v1/me` with an access token, of
`GET /v1/organizations` with an API key, and of a password sign-in (argon2).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PASSWORD, bench_client, report, scratch_database, sign_up_with_organization

ROUNDS = 400
SIGN_INS = 20


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "per_second": round(len(ordered) / sum(ordered), 1),
    }


async def _timed(call: Callable[[], Awaitable[httpx.Response]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await call()
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


async def _measure(url: str) -> dict[str, object]:
    async with bench_client(url) as client:
        person, organization_id = await sign_up_with_organization(client, "enterprise")
        key = await client.post(
            "/v1/api-keys",
            json={
                "organization_id": organization_id,
                "name": "bench",
                "scopes": ["organizations:read"],
            },
            headers=person,
        )
        app_headers = {"Authorization": f"Bearer {key.json()['key']}"}
        credentials = {"username": "bench@example.cn", "password": PASSWORD}
        me = await _timed(lambda: client.get("/v1/me", headers=person), ROUNDS)
        listed = await _timed(lambda: client.get("/v1/organizations", headers=app_headers), ROUNDS)
        sign_in = await _timed(lambda: client.post("/v1/auth/token", data=credentials), SIGN_INS)
    return {
        "rounds": ROUNDS,
        "me_with_access_token": _figures(me),
        "organizations_with_api_key": _figures(listed),
        "password_sign_in": _figures(sign_in),
    }


def main() -> None:
    with scratch_database() as url:
        figures = asyncio.run(_measure(url))
    report("auth_requests", figures)


if __name__ == "__main__":
    main()

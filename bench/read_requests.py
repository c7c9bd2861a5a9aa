"""Reading the market under load: `GET /v1/listings/{id}` and a typical search, 50 concurrent
clients on loopback against uvicorn (`techx serve`, one process, the demo market), each beside a
bare FastAPI endpoint answering a constant under the same uvicorn in the same run — the
framework's ceiling. Prints one JSON object: requests/s, p50 and p99 per case, and each case's
share of the ceiling.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PASSWORD, report, scratch_database

CLIENTS = 50
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
SECRET = "bench-" + "k" * 40
SEARCH = {"q": "稀土 永磁", "field": "new_materials", "limit": "20"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(arguments: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own servers, started before measuring
        [sys.executable, *arguments], env=environment, cwd=Path(__file__).resolve().parent.parent
    )


async def _ready(http: httpx.AsyncClient, path: str) -> None:
    for _ in range(1200):
        try:
            if (await http.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{path} never answered")


async def _load(
    http: httpx.AsyncClient, request: Callable[[], Awaitable[httpx.Response]]
) -> dict[str, float]:
    samples: list[float] = []
    failures = errors = 0
    deadline = time.perf_counter() + SECONDS

    async def client() -> None:
        nonlocal failures, errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await request()
            except httpx.TransportError:
                errors += 1  # a connection reset under load: counted, not fatal
                continue
            samples.append(time.perf_counter() - started)
            failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    ordered = sorted(samples)
    return {
        "requests_per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        "non_200": failures,
        "transport_errors": errors,
    }


async def _measure(url: str) -> dict[str, object]:
    api_port, bare_port = _free_port(), _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "true",
        "ENVIRONMENT": "production",
        # The load comes from one address and one person: lift the limits out of the way.
        "RATE_LIMITS": json.dumps({"search": 10**9, "writes": 10**9, "bids": 10**9}),
    }
    servers = [
        _start(["-m", "app.cli", "serve", "--demo", "--port", str(api_port)], environment),
        _start(
            ["-m", "uvicorn", "--app-dir", "bench", "ceiling:app", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log"],
            environment,
        ),
    ]  # fmt: skip
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=60, limits=limits)
    bare = httpx.AsyncClient(base_url=f"http://127.0.0.1:{bare_port}", timeout=60, limits=limits)
    try:
        await _ready(api, "/healthz")
        await _ready(bare, "/constant")
        await api.post(
            "/v1/users",
            json={"email": "reader@example.cn", "password": PASSWORD, "display_name": "读者"},
        )
        token = (
            await api.post(
                "/v1/auth/token", data={"username": "reader@example.cn", "password": PASSWORD}
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        hits = (await api.get("/v1/search/listings", params=SEARCH)).json()["hits"]
        listing_id = hits[0]["listing"]["id"]

        ceiling = await _load(bare, lambda: bare.get("/constant"))
        listing = await _load(api, lambda: api.get(f"/v1/listings/{listing_id}", headers=headers))
        search = await _load(api, lambda: api.get("/v1/search/listings", params=SEARCH))
    finally:
        await api.aclose()
        await bare.aclose()
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    ceiling_rate = ceiling["requests_per_second"]
    return {
        "clients": CLIENTS,
        "seconds_per_case": SECONDS,
        "search_hits": len(hits),
        "bare_constant": ceiling,
        "get_listing": {**listing, "share_of_ceiling": round(listing["requests_per_second"] / ceiling_rate, 3)},
        "search": {**search, "share_of_ceiling": round(search["requests_per_second"] / ceiling_rate, 3)},
    }  # fmt: skip


def main() -> None:
    with scratch_database() as url:
        figures = asyncio.run(_measure(url))
    report("read_requests", figures)


if __name__ == "__main__":
    main()

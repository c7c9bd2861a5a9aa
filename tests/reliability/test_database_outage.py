"""PostgreSQL restarted under load: while it is down every request gets a 503 problem with
`Retry-After` (never a 500, never a hang), and the API recovers by itself once it is back.
Meanwhile `/metrics` keeps answering and says what an operator must see: the database could
not be read, and each search the backend could not answer was counted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pgserver
import pytest
from pydantic import SecretStr

from app.cli import run_migrations
from app.core.config import Settings
from app.core.embedded import embedded_database_url, start_embedded_postgres
from app.main import create_app
from tests.conftest import SECRET
from tests.scrape import samples, total

CLIENTS = 20


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    server = start_embedded_postgres(tmp_path / "pg", cleanup="delete")
    url = embedded_database_url(server, "outage")
    run_migrations(url)
    yield server, url
    server.cleanup()


async def test_the_api_answers_503_while_postgresql_is_down_and_recovers(
    own_postgres: tuple[Any, str], tmp_path: Path
) -> None:
    server, url = own_postgres
    app = create_app(
        Settings(
            environment="test",
            database_url=url,
            secret_key=SecretStr(SECRET),
            data_dir=tmp_path / "data",
            rate_limits={"search": 10**6, "writes": 10**6},
        )
    )
    statuses: Counter[int] = Counter()
    problems: list[httpx.Response] = []
    phase = {"name": "up"}
    recovered_at: list[float] = []

    async def client(http: httpx.AsyncClient, number: int) -> None:
        while phase["name"] != "done":
            if number % 2:
                answer = await http.get("/v1/search/listings", params={"q": "稀土"})
            else:
                answer = await http.post(
                    "/v1/users",
                    json={
                        "email": f"u{number}-{time.monotonic_ns()}@example.cn",
                        "password": "Outage-pass-2026",
                        "display_name": "负载",
                    },
                )
            statuses[answer.status_code] += 1
            if answer.status_code == 503:
                problems.append(answer)
            if phase["name"] == "back" and answer.status_code in {200, 201}:
                recovered_at.append(time.monotonic())
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30
    ) as http:
        scraped_before = await http.get("/metrics")
        load = asyncio.gather(*(client(http, number) for number in range(CLIENTS)))
        await asyncio.sleep(1)
        await asyncio.to_thread(
            pgserver.pg_ctl,
            ["stop", "-m", "fast"],
            pgdata=server.pgdata,
            user=server.system_user,
        )
        phase["name"] = "down"
        await asyncio.sleep(1)
        scraped_down = await http.get("/metrics")
        await asyncio.sleep(1)
        restarted = time.monotonic()
        await asyncio.to_thread(server.ensure_postgres_running)
        phase["name"] = "back"
        for _ in range(100):
            if recovered_at:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        phase["name"] = "done"
        await load
        after = await http.get("/v1/search/listings")
        scraped_after = await http.get("/metrics")
    await app.state.engine.dispose()

    assert set(statuses) <= {200, 201, 503}, statuses  # never a 500
    assert statuses[503] > 0
    assert all(p.headers["content-type"].startswith("application/problem+json") for p in problems)
    # The search route names its own outage; both tell the client when to come back.
    assert {p.json()["code"] for p in problems} <= {"service_unavailable", "search_unavailable"}
    assert "service_unavailable" in {p.json()["code"] for p in problems}
    assert all(p.headers["retry-after"].isdigit() for p in problems)
    assert recovered_at, "never recovered"
    assert recovered_at[0] - restarted < 10
    assert after.status_code == 200
    assert scraped_down.status_code == 200
    assert samples(scraped_down.text)["techx_database_reachable"] == 0
    assert samples(scraped_after.text)["techx_database_reachable"] == 1
    searches_refused = sum(p.json()["code"] == "search_unavailable" for p in problems)
    assert (
        total(scraped_after.text, "techx_search_backend_errors_total")
        - total(scraped_before.text, "techx_search_backend_errors_total")
        == searches_refused
    )

"""What every benchmark needs: a scratch embedded database, the real app over ASGI, a signed-in
person with an organization, and one JSON line of figures."""

from __future__ import annotations

import json
import platform
import resource
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from app.cli import run_migrations
from app.core.config import Settings
from app.core.embedded import embedded_database_url, start_embedded_postgres
from app.core.observability import configure_logging
from app.main import create_app

PASSWORD = "Bench-pass-2026"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated database on a throwaway embedded server."""
    configure_logging(json_lines=True, level="WARNING")
    with tempfile.TemporaryDirectory(prefix="techx-bench-") as directory:
        server = start_embedded_postgres(Path(directory), cleanup="delete")
        url = embedded_database_url(server, "bench")
        run_migrations(url)
        yield url
        server.cleanup()


@asynccontextmanager
async def bench_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=url, secret_key=SecretStr("bench-" + "k" * 40)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=300
    ) as client:
        yield client
    await app.state.engine.dispose()


async def sign_up_with_organization(
    client: httpx.AsyncClient, kind: str
) -> tuple[dict[str, str], str]:
    """Headers of a newly signed-in owner, and the id of their new organization."""
    await client.post(
        "/v1/users",
        json={"email": "bench@example.cn", "password": PASSWORD, "display_name": "bench"},
    )
    tokens = await client.post(
        "/v1/auth/token", data={"username": "bench@example.cn", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    organization = await client.post(
        "/v1/organizations",
        json={
            "kind": kind,
            "name": "基准测试机构",
            "credit_code": "91110000600037341L",
            "division_code": "150203",
        },
        headers=headers,
    )
    return headers, organization.json()["id"]


def report(benchmark: str, figures: dict[str, object]) -> None:
    print(
        json.dumps(
            {
                "benchmark": benchmark,
                "date": datetime.now(UTC).date().isoformat(),
                "machine": f"{platform.machine()} {platform.python_version()}",
                **figures,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            ensure_ascii=False,
        )
    )

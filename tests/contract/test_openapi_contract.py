"""The OpenAPI document is the contract third-party apps build on: schemathesis generates
requests for every operation against a real server (uvicorn, the test database) and checks
that none answers 5xx, that every answer fits its documented schema, content type and status
code, that a 405 names the methods allowed, and that a request valid by the document is accepted
(`valid_data_accepted` in `hooks.py`: schemathesis' check, save for the rules a schema cannot
state, each named there). Bounded (examples per operation, a time budget) so `make test` stays within minutes.
Run through its CLI: its pytest plugin does not support pytest 9 yet."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from tests.conftest import SECRET
from tests.factories import MarketFactory

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "8"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """`techx serve` on the test database, as a third-party app meets it."""
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMITS": json.dumps({"search": 10**6, "writes": 10**6, "bids": 10**6}),
    }
    process = subprocess.Popen(  # noqa: S603 - our own server
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
async def caller(factory: MarketFactory) -> dict[str, str]:
    """An owner of a verified enterprise who is also a platform administrator: every route
    lets this caller in, so the generated requests reach the rules, not just the door."""
    organization = await factory.organization(OrganizationKind.enterprise)
    person = await factory.person(
        organization, MemberRole.owner, platform_roles=(PlatformRole.admin,)
    )
    return person.headers


async def test_every_operation_keeps_its_contract(
    server: str, caller: dict[str, str], tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{server}/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,unsupported_method,valid_data_accepted",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "2026",
        # One worker: two threads generating at once make hypothesis parse lambdas in both,
        # which on CPython before 3.11.8 trips gh-106905 ("AST constructor recursion depth
        # mismatch", a SystemError that schemathesis reports as a runtime error).
        "--workers",
        os.environ.get("CONTRACT_WORKERS", "1"),
        "--max-time",
        os.environ.get("CONTRACT_SECONDS", "150"),
        "--header",
        f"Authorization: {caller['Authorization']}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = await asyncio.to_thread(
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("hooks.py"))},
    )

    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]

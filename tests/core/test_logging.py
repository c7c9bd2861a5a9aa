"""Every log line written while serving a request carries that request's id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from app.core.observability import configure_logging


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

"""The OpenAPI document reads well for a newcomer: every operation has a summary, a
description, tags and its error responses; every request body shows an example."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.clock import SandboxClock
from app.core.config import Settings
from app.main import create_app

PROBES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


def _has_example(document: dict[str, Any], body: dict[str, Any]) -> bool:
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        properties = schema.get("properties", {}).values()
        if (
            media.get("example")
            or media.get("examples")
            or schema.get("examples")
            or any(isinstance(p, dict) and p.get("examples") for p in properties)
        ):
            return True
    return False


@pytest.fixture(params=["production", "sandbox"])
async def served(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app as deployed, and as a sandbox (which adds the clock's routes)."""
    sandbox = request.param == "sandbox"
    app = create_app(
        settings.model_copy(update={"sandbox": sandbox}),
        clock=SandboxClock() if sandbox else None,
    )
    yield app
    await app.state.engine.dispose()


def test_every_operation_is_documented(served: FastAPI) -> None:
    app = served
    document = app.openapi()
    missing = [
        f"{method} {path}: {what}"
        for method, path, operation in _operations(app)
        for what, ok in (
            ("summary", bool(operation.get("summary"))),
            ("description", bool(operation.get("description"))),
            ("tags", bool(operation.get("tags"))),
            (
                "error responses",
                (method, path) in PROBES
                or any(code.startswith("4") for code in operation["responses"]),
            ),
            (
                "body example",
                "requestBody" not in operation or _has_example(document, operation["requestBody"]),
            ),
        )
        if not ok
    ]

    assert missing == []


def test_the_sections_follow_the_market_not_the_order_routes_are_matched_in(
    served: FastAPI,
) -> None:
    document = served.openapi()
    used = {tag for _, _, operation in _operations(served) for tag in operation["tags"]}

    assert [tag["name"] for tag in document["tags"]][:3] == ["operations", "auth", "users"]
    assert used <= {tag["name"] for tag in document["tags"]}

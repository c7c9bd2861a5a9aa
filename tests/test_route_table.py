"""The route table is ordered for speed (hot routes first, one flat list): every route must
still be the one that answers its own paths, and the hot ones must come first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from app.core.clock import SandboxClock
from app.core.config import Settings
from app.main import HOT_ROUTES, create_app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    served = create_app(settings.model_copy(update={"sandbox": True}), clock=SandboxClock())
    yield served
    await served.state.engine.dispose()


def _answering(app: FastAPI, method: str, path: str) -> object:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def test_every_route_answers_its_own_paths(app: FastAPI) -> None:
    routes = [route for route in app.router.routes if isinstance(route, APIRoute)]
    # A parameter filled with a value no static segment has, as a client's id would be.
    concrete = [
        (method, re.sub(r"\{[^}]+\}", "0f8c2a4e-6b7d-4c1e-9a3f-5d2b8e7c1a90", route.path), route)
        for route in routes
        for method in sorted(route.methods)
    ]
    wrong = [
        (method, path, getattr(_answering(app, method, path), "path", None))
        for method, path, route in concrete
        if _answering(app, method, path) is not route
    ]

    assert len(routes) > 100
    assert wrong == []


def test_the_hot_routes_are_tried_first(app: FastAPI) -> None:
    first = [
        (method, route.path)
        for route in app.router.routes[: len(HOT_ROUTES)]
        for method in route.methods  # type: ignore[attr-defined]
    ]

    assert sorted(first) == sorted(HOT_ROUTES)

"""What every request pays for: no route or dependency runs in a worker thread, and the
app-wide checks happen in pure ASGI middleware, not in per-route dependencies."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.16x)
            yield from _api_routes(route.original_router.routes)


def _runs_in_a_thread(call: Any) -> bool:
    target = call if inspect.isroutine(call) else type(call).__call__
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


def test_no_route_or_dependency_hops_to_a_thread(app: FastAPI) -> None:
    # FastAPI runs a plain `def` dependency or route in its thread pool: a thread hop per call
    # cost a quarter of a cheap read's time.
    threaded = sorted(
        {
            f"{route.path}: {getattr(call, '__qualname__', type(call).__qualname__)}"
            for route in _api_routes(app.routes)
            for call in [route.endpoint, *_calls(route.dependant)]
            if _runs_in_a_thread(call)
        }
    )

    assert threaded == []


def test_the_app_adds_no_dependency_to_every_route(app: FastAPI) -> None:
    assert app.router.dependencies == []

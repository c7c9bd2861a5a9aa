"""Routes whose dependencies are solved by a plan made once, when the route is made
(`PlannedRoute`, declared with `planned`), for the hottest paths: a bid, a proxy maximum, a
listing read and the listing search.

FastAPI solves a route's dependencies anew on every request: for each one it recurses,
works out its cache key and whether it uses security scopes, inspects whether its callable is
a generator, and looks for path, query, header and cookie parameters — ~10 µs a dependency
before it runs, nothing of which changes between requests (fastapi/fastapi#14441 is open).
On a bid that was a sixth of the API's CPU: a bid request cost 678–711 µs of CPU under wrk
through FastAPI's handler and 573–574 through this one; a listing read 300–333 µs and 228–238,
a search 483–505 and 408–435 (2 cores, 2026-12-06).

The plan takes only what those routes are made of — dependencies that take the request (and the
response whose headers join the answer) and header parameters, no nested dependencies, no
generators; path, header and a JSON body on the route itself, an endpoint that may take the
request and that response too — and refuses any other shape when the route is made. A request
it cannot take as it is (an input FastAPI would refuse, a body that is not JSON or not UTF-8,
dependency overrides, FastAPI's telemetry switched on) goes to FastAPI's own handler before
anything has run, so every answer but a valid request's is FastAPI's; a valid request gets what
FastAPI's handler would give: each dependency called once, in FastAPI's order, the endpoint's
answer validated and serialized by the route's response field with the status code and the
headers the dependencies set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from fastapi import Request, Response, params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter, serialize_response
from fastapi.telemetry import get_telemetry_data
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import TypeAdapter, ValidationError

from app.core.errors import DomainError, problem_response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Coroutine[Any, Any, Any]])


@dataclass(frozen=True)
class _Step:
    """One dependency: its callable, where its answer goes, and how it is called."""

    call: Callable[..., Coroutine[Any, Any, Any]]
    name: str | None
    request_name: str | None
    response_name: str | None
    headers: Sequence[_Parameter]

    async def run(self, arguments: dict[str, Any], request: Request, response: Response) -> Any:
        """Call it with `arguments` and, where it asks for them, the request and the response
        whose status and headers join the answer."""
        if self.request_name:
            arguments[self.request_name] = request
        if self.response_name:
            arguments[self.response_name] = response
        return await self.call(**arguments)


@dataclass(frozen=True)
class _Parameter:
    """A path or header parameter, read as FastAPI reads it: by the name the request carries
    (a header's underscores as hyphens), validated by its field, missing meaning its default."""

    field: ModelField
    key: str
    location: str

    @classmethod
    def of(cls, route: APIRoute, field: ModelField) -> _Parameter:
        info = field.field_info
        if (
            not isinstance(info, params.Path | params.Header)
            or info.validation_alias is not None
            or field.config
            or field_annotation_is_sequence(info.annotation)
        ):
            raise _unsupported(route, f"parameter {field.name} of that kind")
        # FastAPI names a header by its alias, which it spells with hyphens already.
        key = field.alias
        if isinstance(info, params.Header) and info.convert_underscores and key == field.name:
            key = key.replace("_", "-")
        return cls(field, key, info.in_.value)

    def read(self, request: Request) -> tuple[bool, Any]:
        """(True, the value), or (False, None) for a value FastAPI would refuse."""
        received = request.path_params if self.location == "path" else request.headers
        value = received.get(self.key)
        if value is None:
            info = self.field.field_info
            if info.is_required():
                return False, None
            value = deepcopy(self.field.default)
            if not info.validate_default:
                return True, value
        value, errors = self.field.validate(value, loc=(self.location, self.key))
        return not errors, value


@dataclass(frozen=True)
class _Body:
    """The route's JSON body: the endpoint's argument it goes to, and what validates it from its
    bytes in one pass (pydantic-core parses and validates) — the adapter FastAPI validates the
    parsed body with, in JSON mode. A body valid in JSON mode is valid in Python mode with the
    same value for the lax types the API's bodies are made of (strict fields would differ: a
    date as a string is strict JSON, not strict Python); whatever it refuses goes to FastAPI,
    which answers as it always did."""

    name: str
    validate: Callable[[bytes], Any]

    @classmethod
    def of(cls, route: APIRoute, field: ModelField) -> _Body:
        adapter = getattr(field, "_type_adapter", None)
        if not isinstance(adapter, TypeAdapter):
            raise _unsupported(route, "body validated otherwise than by a TypeAdapter")
        return cls(field.name, adapter.validate_json)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _unsupported(route: APIRoute, why: str) -> TypeError:
    return TypeError(f"{route.path}: PlannedRoute takes no {why}")


_NEVER_PLANNED = (
    "query_params",
    "cookie_params",
    "websocket_param_name",
    "http_connection_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)
"""What neither a planned route's endpoint nor its dependencies may ask for."""


def _refuse_any(route: APIRoute, dependant: Dependant, *also: str) -> None:
    """Raise TypeError if `dependant` (the endpoint or a dependency) asks for anything of
    `_NEVER_PLANNED` or `also`."""
    for asked in (*_NEVER_PLANNED, *also):
        if getattr(dependant, asked):
            raise _unsupported(route, f"{asked} (in {dependant.name or 'the endpoint'})")


def _steps(route: APIRoute) -> list[_Step]:
    steps: list[_Step] = []
    seen: set[int] = set()
    for dependency in route.dependant.dependencies:
        call = dependency.call
        if call is None or id(call) in seen:
            raise _unsupported(route, "dependency used twice")
        seen.add(id(call))
        if dependency.dependencies:
            raise _unsupported(route, "nested dependencies")
        _refuse_any(
            route, dependency, "path_params", "body_params", "own_oauth_scopes", "concurrency"
        )
        if not _is_coroutine(call):
            raise _unsupported(route, "dependency that is not a coroutine function")
        steps.append(
            _Step(
                call,
                dependency.name,
                dependency.request_param_name,
                dependency.response_param_name,
                [_Parameter.of(route, field) for field in dependency.header_params],
            )
        )
    return steps


def _is_coroutine(call: Callable[..., Any]) -> bool:
    # What FastAPI awaits: a coroutine function, or an object whose __call__ is one.
    target = call if inspect.isfunction(call) else getattr(call, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(target)


class PlannedRoute(APIRoute):
    """An APIRoute (documented, matched and wrapped in the exception handlers as any other)
    whose handler solves its dependencies by a plan made when the route is made. Raises
    TypeError then for a route made of anything the plan does not take."""

    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        dependant = self.dependant
        _refuse_any(self, dependant)
        if self.response_field is None or not isinstance(self.response_class, DefaultPlaceholder):
            raise _unsupported(self, "response without a response model")
        if dependant.body_params and (len(dependant.body_params) != 1 or self._embed_body_fields):
            raise _unsupported(self, "body but one JSON document")
        if dependant.call is None or not _is_coroutine(dependant.call):
            raise _unsupported(self, "endpoint that is not a coroutine function")
        steps = _steps(self)
        parameters = [
            _Parameter.of(self, field)
            for field in (*dependant.path_params, *dependant.header_params)
        ]
        body = _Body.of(self, dependant.body_params[0]) if dependant.body_params else None
        endpoint = _Step(
            dependant.call, None, dependant.request_param_name, dependant.response_param_name, []
        )
        overridden_by = self.dependency_overrides_provider
        default_status = self.status_code or 200
        # What serializes the endpoint's answer, as FastAPI's handler would: fixed per route.
        serialize = partial(
            serialize_response,
            field=self.response_field,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
            dump_json=True,
        )

        async def handler(request: Request) -> Response:
            # Read on each request: tests set and clear the overrides while the app runs.
            overrides = getattr(overridden_by, "dependency_overrides", None)
            if overrides or get_telemetry_data() is not None:
                return await generic(request)
            inputs = await _inputs(parameters, body, steps, request)
            if inputs is None:
                return await generic(request)
            values, step_arguments = inputs
            # The response whose status and headers the dependencies may set, as FastAPI's.
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            try:
                for step, arguments in zip(steps, step_arguments, strict=True):
                    answer = await step.run(arguments, request, sub_response)
                    if step.name is not None:
                        values[step.name] = answer
                raw = await endpoint.run(values, request, sub_response)
            except DomainError as refused:
                # Answered as the app's one handler of domain errors answers it (a test keeps
                # it the only one), without unwinding through Starlette's wrappers: most bids
                # on a hot auction end here.
                return problem_response(request, refused)
            if isinstance(raw, Response):
                return raw
            content = await serialize(response_content=raw)
            status_code = sub_response.status_code or default_status
            response = Response(content, status_code=status_code, media_type="application/json")
            if not is_body_allowed_for_status_code(status_code):
                response.body = b""
            response.headers.raw.extend(sub_response.headers.raw)
            return response

        return handler


async def _inputs(
    parameters: Sequence[_Parameter],
    body: _Body | None,
    steps: Sequence[_Step],
    request: Request,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The endpoint's path, header and body values and each dependency's header values,
    validated as FastAPI validates them (the body from its bytes: `_Body`); None when any
    is not valid or the body is not JSON (FastAPI's handler answers those)."""
    values: dict[str, Any] = {}
    for parameter in parameters:
        valid, values[parameter.field.name] = parameter.read(request)
        if not valid:
            return None
    if body is not None:
        if not _is_json(request.headers.get("content-type")):
            return None
        received = await request.body()
        if not received:
            return None
        try:
            values[body.name] = body.validate(received)
        except ValidationError:  # not JSON, not UTF-8, or not what the route takes
            return None
    step_arguments = []
    for step in steps:
        arguments: dict[str, Any] = {}
        for parameter in step.headers:
            valid, arguments[parameter.field.name] = parameter.read(request)
            if not valid:
                return None
        step_arguments.append(arguments)
    return values, step_arguments


def planned(
    router: APIRouter, path: str, *, methods: Sequence[str], **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """`@router.get(path, …)` (or any method) for a route that is a `PlannedRoute`: `options`
    are `add_api_route`'s."""

    def declare(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=list(methods), route_class_override=PlannedRoute, **options
        )
        return endpoint

    return declare

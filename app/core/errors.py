"""Errors as RFC 9457 problem details (`application/problem+json`).

Services raise the typed errors below; one set of handlers turns them, request-validation
errors, unknown routes and database constraint violations into localized problem documents.
Routers never build error responses by hand.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import Send

from app.core.i18n import MESSAGES, Locale, current_locale, translate

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://techexchange.example/problems/"

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One bad field: where it is (`body.email`), a stable code and a localized message."""

    field: str
    code: str
    params: Mapping[str, object] = dataclass_field(default_factory=dict)
    message: str | None = None

    def render(self, locale: Locale) -> dict[str, str]:
        text = self.message or translate(f"field.{self.code}", locale, **self.params)
        return {"field": self.field, "code": self.code, "message": text}


class DomainError(Exception):
    """Base of every error a service raises on purpose; `code` is the stable machine string."""

    status: int = 400
    code: str = "bad_request"
    detail_code: str | None = None

    def __init__(
        self,
        *,
        detail_code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
        keep_changes: bool = False,
        **params: object,
    ) -> None:
        self.detail_code = detail_code or self.detail_code
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        # True when the transaction must commit even though the request fails (a revocation
        # triggered by the very request that is refused).
        self.keep_changes = keep_changes
        self.params = params
        super().__init__(self.code, self.detail_code, params)

    def problem(self, locale: Locale, instance: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code.replace("_", "-"),
            "title": translate(self.code, locale),
            "status": self.status,
            "code": self.code,
            "instance": instance,
        }
        if self.detail_code:
            document["detail"] = translate(self.detail_code, locale, **self.params)
        if self.errors:
            document["errors"] = [error.render(locale) for error in self.errors]
        document.update(self.extensions)
        return document


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class MalformedJSON(DomainError):
    status, code = 400, "malformed_json"


class ValidationFailed(DomainError):
    """Input that parsed but breaks a rule; always names the field."""

    status, code = 422, "validation_failed"

    def __init__(self, field_name: str, error_code: str, **params: object) -> None:
        super().__init__(errors=[FieldError(field_name, error_code, params)])


class Unauthenticated(DomainError):
    status, code = 401, "unauthenticated"

    def __init__(self, *, error: str | None = None, **kwargs: Any) -> None:
        challenge = 'Bearer realm="techexchange"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(headers={"WWW-Authenticate": challenge}, **kwargs)


class InvalidToken(Unauthenticated):
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__(error="invalid_token")


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"


class InvalidGrant(DomainError):
    # RFC 6749 §5.2: a bad refresh token is a 400 invalid_grant, not a 401.
    status, code = 400, "invalid_grant"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class InsufficientScope(DomainError):
    status, code = 403, "insufficient_scope"
    detail_code = "detail.scope_required"


class NotFound(DomainError):
    """Missing, or not the caller's to see: both look the same from outside."""

    status, code = 404, "not_found"
    detail_code = "detail.not_found"


class AlreadyExists(DomainError):
    status, code = 409, "already_exists"
    detail_code = "detail.already_exists"

    def __init__(self, field_name: str) -> None:
        super().__init__(
            errors=[FieldError(field_name, "already_exists", {"field": field_name})],
            field=field_name,
        )


class Conflict(DomainError):
    status, code = 409, "conflict"


class InvalidState(DomainError):
    status, code = 409, "invalid_state"


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"
    detail_code = "detail.payload_too_large"


class MethodNotAllowed(DomainError):
    status, code = 405, "method_not_allowed"
    detail_code = "detail.method_not_allowed"


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"


class InternalError(DomainError):
    status, code = 500, "internal_error"


class ServiceUnavailable(DomainError):
    status, code = 503, "service_unavailable"


class RequestInvalid(DomainError):
    """Request validation failed on one or more fields (FastAPI/pydantic parsing)."""

    status, code = 422, "validation_failed"


# Starlette raises HTTPException for a few statuses on its own; the codes we answer with.
_HTTP_STATUS_ERRORS: dict[int, type[DomainError]] = {
    401: Unauthenticated,
    403: Forbidden,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


# Unique constraints whose violation means "this field's value is taken". Each domain package
# registers its own, so a race that slips past the service's check still answers 409 + field.
UNIQUE_CONSTRAINT_FIELDS: dict[str, str] = {}


def register_unique_field(constraint: str, field_name: str) -> None:
    UNIQUE_CONSTRAINT_FIELDS[constraint] = field_name


class ProblemResponse(JSONResponse):
    """A problem document, written by pydantic-core's JSON encoder: the standard library's,
    as `JSONResponse` calls it, builds an encoder for every document and cost six times as
    much (4 µs against 0.6 for a refused bid's), on the path every refusal takes."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return to_json(content)


def problem_response(request: Request, error: DomainError) -> ProblemResponse:
    # The locale the request context negotiated, and the path as the middleware's problems
    # name it (`send_problem`).
    locale = current_locale.get()
    headers = {"Content-Language": locale, **error.headers}
    return ProblemResponse(
        error.problem(locale, request.scope["path"]), status_code=error.status, headers=headers
    )


def _field_path(location: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in location)


def field_errors_from_validation(errors: Sequence[Any]) -> list[FieldError]:
    """Pydantic's error list as our field errors, messages localized by error type."""
    result: list[FieldError] = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        context = dict(error.get("ctx") or {})
        if kind in {"enum", "literal_error"} and "expected" in context:
            context["expected"] = str(context["expected"])
        if kind == "value_error" and "error" in context:
            context["error"] = str(context["error"])
        message = None
        if f"field.{kind}" not in _known_field_codes():
            message = str(error.get("msg", kind))
        result.append(FieldError(_field_path(error.get("loc", ())), kind, context, message))
    return result


def _known_field_codes() -> set[str]:
    return {code for code in MESSAGES if code.startswith("field.")}


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(request, exc)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    invalid_json = [e for e in errors if e.get("type") == "json_invalid"]
    if invalid_json:
        context = invalid_json[0].get("ctx") or {}
        return problem_response(
            request,
            MalformedJSON(
                detail_code="field.json_invalid",
                error=str(context.get("error", "")),
            ),
        )
    return problem_response(request, RequestInvalid(errors=field_errors_from_validation(errors)))


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: DomainError = NotFound(detail_code="detail.route_not_found", path=request.url.path)
    elif exc.status_code == 405:
        error = MethodNotAllowed(method=request.method)
    else:
        error = _HTTP_STATUS_ERRORS.get(exc.status_code, BadRequest)()
    error.headers.update(exc.headers or {})
    if exc.status_code == 405:
        error.headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(request, error)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path (RFC 9110 §10.2.1, `Allow` of a
    405): the router names only the first route it found there, and a path such as
    `/v1/results/{id}` is served by several."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(request.scope["path"]):
            methods.update(route.methods or ())
    return sorted(methods)


async def _integrity_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    constraint = getattr(exc.orig, "constraint_name", None) or _constraint_from_text(str(exc.orig))
    field_name = UNIQUE_CONSTRAINT_FIELDS.get(constraint or "")
    if field_name is not None:
        return problem_response(request, AlreadyExists(field_name))
    logger.warning("integrity_error", constraint=constraint, error=str(exc.orig))
    return problem_response(request, Conflict())


def _constraint_from_text(text: str) -> str | None:
    # asyncpg's message through SQLAlchemy: 'duplicate key value violates unique constraint "x"'
    marker = 'constraint "'
    start = text.find(marker)
    if start < 0:
        return None
    end = text.find('"', start + len(marker))
    return text[start + len(marker) : end]


_OUTAGE_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    # A connection whose server went away mid-statement, met again on the read path.
    asyncpg.exceptions.InternalClientError,
)


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    OSError,
    SQLAlchemyTimeoutError,
    # The read path (app/core/reads.py) meets asyncpg's own errors, not SQLAlchemy's.
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
"""What a database call can raise; `is_database_outage` tells an outage from a bug."""


def database_unavailable() -> ServiceUnavailable:
    """The answer to an outage: 503 with Retry-After, for the client to retry."""
    return ServiceUnavailable(headers={"Retry-After": "5"})


def is_database_outage(exc: BaseException) -> bool:
    """Whether an error means PostgreSQL cannot be reached right now (down, restarting, out
    of connections), as opposed to a bug: the former is a 503 to retry, the latter a 500."""
    if isinstance(exc, SQLAlchemyTimeoutError):  # the pool waited for a connection in vain
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _OUTAGE_ERRORS):
            return True
        if isinstance(seen, OSError) and any(
            "/asyncpg/" in frame.f_code.co_filename
            for frame, _ in traceback.walk_tb(seen.__traceback__)
        ):
            return True  # connecting failed: no socket, refused, reset
        seen = seen.__cause__ or seen.__context__
    return False


async def _outage_handler(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_outage(exc):
        raise exc  # a bug: RequestContextMiddleware logs it and answers a 500 problem
    logger.warning("database_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
    return problem_response(request, database_unavailable())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(IntegrityError, _integrity_error_handler)
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, _outage_handler)
    # Anything else is a bug: RequestContextMiddleware logs it and answers a 500 problem.


async def send_problem(send: Send, error: DomainError, locale: Locale, instance: str) -> None:
    """Answer with a problem document from ASGI middleware, outside FastAPI's handlers."""
    body = to_json(error.problem(locale, instance))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "PROBLEM_JSON",
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InsufficientScope",
    "InvalidCredentials",
    "InvalidGrant",
    "InvalidState",
    "InvalidToken",
    "MalformedJSON",
    "NotFound",
    "PayloadTooLarge",
    "Unauthenticated",
    "ValidationFailed",
    "current_locale",
    "install_error_handlers",
    "register_unique_field",
]


class ProblemFieldError(BaseModel):
    field: str = Field(examples=["body.email"])
    code: str = Field(examples=["already_exists"])
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code.")
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


_STATUS_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad grant)",
    401: "Missing, wrong or expired credentials",
    403: "Authenticated, but the role or scope is missing",
    404: "No such object, or not yours to see",
    409: "Conflicts with existing data or the object's state",
    413: "Request body too large",
    422: "A field failed validation; `errors` names it",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "A service we depend on is down (database, provider); retry later",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problem documents a route can answer with."""
    return {
        status: {
            "model": Problem,
            "description": _STATUS_DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def document_common_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation of an OpenAPI document the problems any of them can answer:
    400 and 413 where there is a body (malformed, too large), 429 where a rate limit counts
    (writes, search), 503 everywhere (the database or a provider is down)."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            wanted = [503]
            if "requestBody" in operation:
                wanted += [400, 413]
            if method in {"post", "put", "patch", "delete"} or path.startswith("/v1/search"):
                wanted.append(429)
            responses = operation.setdefault("responses", {})
            for status in wanted:
                responses.setdefault(
                    str(status),
                    {
                        "description": _STATUS_DESCRIPTIONS[status],
                        "content": {
                            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    },
                )
    return schema

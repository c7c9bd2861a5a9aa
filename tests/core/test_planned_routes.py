"""Routes solved by a plan (`app/core/routing.py`) answer exactly as FastAPI's own handler:
one app serves the same endpoint both ways, and every request gets the same answer from each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.dependencies.utils import solve_dependencies
from pydantic import BaseModel, Field

from app.auctions import router as auctions
from app.core.errors import Conflict, DomainError, Forbidden, install_error_handlers
from app.core.routing import PlannedRoute
from app.listings import router as listings
from search import router as search


class Bid(BaseModel):
    amount: int = Field(gt=0)
    note: str | None = None


class Placed(BaseModel):
    auction_id: uuid.UUID
    amount: int
    caller: str
    key: str | None


calls: list[str] = []


async def counted(request: Request, response: Response) -> None:
    calls.append("counted")
    response.headers["RateLimit-Remaining"] = "9"


async def caller(request: Request) -> str:
    calls.append("caller")
    name = request.headers.get("authorization", "")
    if not name:
        raise HTTPException(401, "who?")
    if name == "Bearer banned":
        raise Forbidden()
    return name


async def request_key(
    request: Request, idempotency_key: Annotated[str | None, Header(pattern=r"^[a-z]+$")] = None
) -> str | None:
    calls.append("key")
    return idempotency_key


async def place(
    who: Annotated[str, Depends(caller)],
    key: Annotated[str | None, Depends(request_key)],
    auction_id: uuid.UUID,
    body: Bid,
) -> Placed:
    if body.amount == 13:
        raise HTTPException(409, "unlucky")
    if body.amount == 7:
        raise Conflict()
    return Placed(auction_id=auction_id, amount=body.amount, caller=who, key=key)


async def read(
    request: Request,
    response: Response,
    who: Annotated[str, Depends(caller)],
    auction_id: uuid.UUID,
) -> Placed | Response:
    """An endpoint that takes the request and the response, and may answer with its own."""
    response.headers["X-Read-By"] = who
    if "raw" in request.query_params:
        return Response(b'{"raw": true}', media_type="application/json")
    return Placed(auction_id=auction_id, amount=len(request.url.path), caller=who, key=None)


def both_ways() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()
    for prefix, route_class in (("/planned", PlannedRoute), ("/generic", None)):
        router.add_api_route(
            prefix + "/{auction_id}/bids",
            place,
            methods=["POST"],
            response_model=Placed,
            status_code=201,
            dependencies=[Depends(counted)],
            route_class_override=route_class,
        )
        router.add_api_route(
            prefix + "/{auction_id}",
            read,
            methods=["GET"],
            response_model=Placed,
            dependencies=[Depends(counted)],
            route_class_override=route_class,
        )
    app.include_router(router)
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=both_ways())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def unprefixed(answer: httpx.Response, prefix: str) -> bytes:
    """The answer's body without the route's prefix (a problem document names its path)."""
    return answer.content.replace(prefix.encode(), b"")


AUCTION = str(uuid.uuid4())
JSON = {"content-type": "application/json"}
CALLER = {"authorization": "Bearer someone"}


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        (AUCTION, {**JSON, **CALLER, "idempotency-key": "abc"}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 5, "note": "\xe5\x87\xba\xe4\xbb\xb7"}'),
        (AUCTION, {"content-type": "application/merge-patch+json", **CALLER}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 13}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 7}'),
        (AUCTION, {**JSON}, b'{"amount": 5}'),
        (AUCTION, {**JSON, "authorization": "Bearer banned"}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 0}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": '),
        (AUCTION, {**JSON, **CALLER}, b""),
        (AUCTION, {**JSON, **CALLER}, b"\xb1"),
        (AUCTION, {**CALLER}, b'{"amount": 5}'),
        (AUCTION, {"content-type": "text/plain", **CALLER}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER, "idempotency-key": "ABC"}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER, "idempotency-key": ""}, b'{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER}, b'[{"amount": 5}]'),
        ("not-a-uuid", {**JSON, **CALLER}, b'{"amount": 5}'),
        # Bodies that JSON read by pydantic-core and by the json module might tell apart.
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 5.0}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": "5"}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": true}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 5, "amount": 6}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": NaN}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 1e400}'),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 5, "note": "\\ud800"}'),
        (AUCTION, {**JSON, **CALLER}, b'\xef\xbb\xbf{"amount": 5}'),
        (AUCTION, {**JSON, **CALLER}, '{"amount": 5}'.encode("utf-16")),
        (AUCTION, {**JSON, **CALLER}, b'{"amount": 5, "extra": [1, {"a": null}]}'),
    ],
    ids=[
        "valid",
        "valid-unicode",
        "valid-json-suffix",
        "endpoint-refuses",
        "endpoint-refuses-by-a-domain-error",
        "dependency-refuses",
        "dependency-refuses-by-a-domain-error",
        "body-invalid",
        "body-not-json",
        "body-empty",
        "body-not-utf8",
        "no-content-type",
        "text-body",
        "header-invalid",
        "header-empty",
        "body-a-list",
        "path-invalid",
        "body-float",
        "body-number-as-text",
        "body-boolean",
        "body-key-twice",
        "body-nan",
        "body-number-too-large",
        "body-lone-surrogate",
        "body-byte-order-mark",
        "body-utf16",
        "body-extra-fields",
    ],
)
async def test_a_planned_route_answers_as_fastapi_does(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], body: bytes
) -> None:
    answers = []
    for prefix in ("/planned", "/generic"):
        calls.clear()
        answer = await http.post(f"{prefix}/{path}/bids", headers=headers, content=body)
        answers.append(
            (answer.status_code, answer.headers.raw, unprefixed(answer, prefix), list(calls))
        )

    planned, generic = answers
    assert planned == generic


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (AUCTION, CALLER),
        (AUCTION + "?raw", CALLER),
        (AUCTION, {}),
        ("not-a-uuid", CALLER),
    ],
    ids=["valid", "endpoint-answers-itself", "dependency-refuses", "path-invalid"],
)
async def test_a_planned_endpoint_taking_the_request_and_response_answers_as_fastapi_does(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    answers = []
    for prefix in ("/planned", "/generic"):
        calls.clear()
        answer = await http.get(f"{prefix}/{path}", headers=headers)
        answers.append(
            (answer.status_code, answer.headers.raw, unprefixed(answer, prefix), list(calls))
        )

    planned, generic = answers
    assert planned == generic


async def test_only_what_the_plan_cannot_take_goes_to_fastapis_solver(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[str] = []

    async def counting(**arguments: Any) -> Any:
        solved.append(arguments["request"].url.path)
        return await solve_dependencies(**arguments)

    monkeypatch.setattr("fastapi.routing.solve_dependencies", counting)
    valid = await http.post(
        f"/planned/{AUCTION}/bids", headers={**JSON, **CALLER}, json={"amount": 5}
    )
    invalid = await http.post(
        f"/planned/{AUCTION}/bids", headers={**JSON, **CALLER}, json={"amount": 0}
    )
    generic = await http.post(
        f"/generic/{AUCTION}/bids", headers={**JSON, **CALLER}, json={"amount": 5}
    )

    assert (valid.status_code, invalid.status_code, generic.status_code) == (201, 422, 201)
    assert solved == [f"/planned/{AUCTION}/bids", f"/generic/{AUCTION}/bids"]


async def session() -> AsyncIterator[str]:
    yield "session"


async def nested(value: Annotated[str, Depends(session)]) -> str:
    return value


async def of_another_shape(value: Annotated[str, Depends(nested)]) -> Placed:
    raise AssertionError("never called")


def test_a_route_of_another_shape_is_refused_when_it_is_made() -> None:
    router = APIRouter()

    with pytest.raises(TypeError, match="nested dependencies"):
        router.add_api_route(
            "/x", of_another_shape, response_model=Placed, route_class_override=PlannedRoute
        )


def test_the_hot_routes_are_planned() -> None:
    planned = {
        (route.path, *sorted(route.methods or ()))
        for router in (auctions.router, listings.router, search.router)
        for route in router.routes
        if isinstance(route, PlannedRoute)
    }

    assert planned == {
        ("/v1/auctions/{auction_id}/bids", "POST"),
        ("/v1/auctions/{auction_id}/proxy-bids", "POST"),
        ("/v1/listings/{listing_id}", "GET"),
        ("/v1/search/listings", "GET"),
    }


def test_the_app_answers_every_domain_error_with_one_handler(app: FastAPI) -> None:
    """A planned route answers a DomainError with `problem_response` itself, as the app's
    handler does: that holds only while no kind of DomainError has a handler of its own."""
    own = {
        kind
        for kind in app.exception_handlers
        if isinstance(kind, type) and issubclass(kind, DomainError)
    }

    assert own == {DomainError}

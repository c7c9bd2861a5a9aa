"""Problem documents, locales, request ids, size limits, health and metrics, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory

PROBLEM = "application/problem+json"


async def test_unknown_route_is_a_localized_problem(client: httpx.AsyncClient) -> None:
    zh = await client.get("/v1/no-such-thing")
    en = await client.get("/v1/no-such-thing", headers={"Accept-Language": "en-US,en;q=0.9"})

    assert zh.status_code == en.status_code == 404
    assert zh.headers["content-type"] == PROBLEM
    assert zh.json()["code"] == en.json()["code"] == "not_found"
    assert zh.json()["title"] == "资源不存在"
    assert en.json()["title"] == "Not found"
    assert en.headers["content-language"] == "en"


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_a_405_names_every_method_the_path_takes(client: httpx.AsyncClient) -> None:
    """RFC 9110 §15.5.6: `Allow` lists what the resource supports — every route at the path,
    not just the first one found — and a literal path is not taken for a parameter."""
    result = await client.patch("/v1/results/7c9e6679-7425-40de-944b-e07fc1f90ae7")
    import_ = await client.put("/v1/results/import")

    assert (result.status_code, result.headers["allow"]) == (405, "GET, PUT")
    assert (import_.status_code, import_.headers["allow"]) == (405, "POST")


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "malformed_json"


async def test_validation_errors_name_every_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users",
        json={"email": "not-an-email", "password": "short", "surprise": 1},
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 422
    errors = {error["field"]: error for error in response.json()["errors"]}
    assert set(errors) == {"body.email", "body.password", "body.display_name", "body.surprise"}
    assert errors["body.password"]["code"] == "password_weak"
    assert errors["body.display_name"]["message"] == "Field required"
    assert errors["body.surprise"]["code"] == "extra_forbidden"


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    big = b"x" * (64 * 1024 + 1)

    declared = await client.post(
        "/v1/users", content=big, headers={"Content-Type": "application/json"}
    )

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(70):
            yield b"x" * 1024

    streamed = await client.post(
        "/v1/users", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert declared.status_code == 413
    assert declared.json()["code"] == "payload_too_large"
    assert streamed.status_code == 413


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    made = await client.get("/healthz")
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})

    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'techx_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text


async def test_readiness_fails_when_the_database_is_gone(settings, clock) -> None:  # type: ignore[no-untyped-def]
    from app.main import create_app

    broken = create_app(
        settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"}),
        clock=clock,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=broken), base_url="http://t"
    ) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    create = spec["paths"]["/v1/organizations"]["post"]
    assert {"401", "403", "409", "422"} <= set(create["responses"])
    assert "Problem" in spec["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer tx_deadbeef_nothing", "Basic abc"])
async def test_bad_credentials_are_401_with_challenge(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/v1/me", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unexpected_failure_is_a_500_problem_with_request_id(
    app,
    client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    response = await client.get("/boom", headers={"X-Request-ID": "trace-me"})

    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.headers["x-request-id"] == "trace-me"


async def test_factory_people_can_call_the_api(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()

    response = await client.get("/v1/me", headers=person.headers)

    assert response.status_code == 200
    assert response.json()["user"]["email"] == person.email


@pytest.mark.parametrize(
    ("send", "field"),
    [
        ({"json": {"email": "a\u0000@example.cn", "password": "x" * 12, "display_name": "a"}},
         "body.email"),
        ({"data": {"username": "a\u0000b", "password": "x"}}, "body.username"),
    ],
)  # fmt: skip
async def test_a_nul_character_is_a_422_naming_the_field_not_a_500(
    client: httpx.AsyncClient, send: dict[str, Any], field: str
) -> None:
    path = "/v1/users" if "json" in send else "/v1/auth/token"

    answer = await client.post(path, **send)

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert answer.json()["errors"][0]["code"] == "nul_character"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=%E7%A8%80%00%E5%9C%9F", "query.q"),
        # Found by schemathesis: the name was echoed, U+0000 and all, into the problem.
        ("q%00x=1", "query"),
    ],
)
async def test_a_nul_character_in_the_query_is_a_422_naming_where(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    answer = await client.get(f"/v1/search/listings?{query}")

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert answer.json()["errors"][0]["code"] == "nul_character"
    assert "\\u0000" not in answer.text

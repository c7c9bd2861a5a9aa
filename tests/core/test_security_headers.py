"""Every answer says `nosniff`; every answer to a request with credentials says `no-store`,
whatever a route would let caches keep (OWASP API8:2023)."""

from __future__ import annotations

import httpx

from tests.factories import Factory


async def test_every_answer_is_nosniff_and_credentialed_ones_are_not_stored(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()
    public = await client.get("/healthz")
    missing = await client.get("/v1/no-such-route")
    own = await client.get("/v1/me", headers=person.headers)
    refused = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.token"})

    for answer in (public, missing, own, refused):
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in public.headers
    assert own.status_code == 200
    assert own.headers["cache-control"] == "no-store"
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"

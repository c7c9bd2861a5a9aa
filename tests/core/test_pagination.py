from __future__ import annotations

import httpx

from app.accounts.models import OrganizationKind
from app.core.auth import PlatformRole
from tests.factories import Factory


async def test_cursor_walks_every_row_once(client: httpx.AsyncClient, factory: Factory) -> None:
    staff = await factory.staff(PlatformRole.reviewer)
    for _ in range(5):
        await factory.organization(OrganizationKind.university)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, "kind": "university", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/organizations", params=params, headers=staff.headers)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert len(seen) == len(set(seen)) == 5


async def test_a_forged_cursor_is_a_field_error(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    person = await factory.person()

    response = await client.get(
        "/v1/organizations", params={"cursor": "not-a-cursor"}, headers=person.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_limit_is_bounded(client: httpx.AsyncClient, factory: Factory) -> None:
    person = await factory.person()

    response = await client.get("/v1/organizations", params={"limit": 1000}, headers=person.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"

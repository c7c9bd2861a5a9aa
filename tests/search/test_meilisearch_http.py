"""The Meilisearch backend at its HTTP boundary (respx), against Meilisearch's documented
request and response shapes. The same behaviour suite runs for real when MEILI_URL is set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.main import create_app
from search.backend import Filters, SearchQuery, SearchUnavailable
from search.meilisearch import MeilisearchBackend
from tests.search.corpus import corpus

URL = "http://meili.test:7700"
FAILED_TASKS: dict[int, dict[str, Any]] = {}


def _task(uid: int, kind: str) -> dict[str, Any]:
    return {
        "taskUid": uid,
        "indexUid": "listings",
        "status": "enqueued",
        "type": kind,
        "enqueuedAt": "2026-11-02T02:00:00Z",
    }


def _task_done(
    uid: int, status: str = "succeeded", error: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "uid": uid, "indexUid": "listings", "status": status, "type": "documentAdditionOrUpdate",
        "canceledBy": None, "details": {}, "error": error, "duration": "PT0.1S",
        "enqueuedAt": "2026-11-02T02:00:00Z", "startedAt": "2026-11-02T02:00:00Z", "finishedAt": "2026-11-02T02:00:01Z",
    }  # fmt: skip


@pytest.fixture
def meili() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=URL, assert_all_called=False) as router:
        router.get("/indexes/listings").respond(
            200,
            json={
                "uid": "listings",
                "primaryKey": "id",
                "createdAt": "2026-11-02T02:00:00Z",
                "updatedAt": "2026-11-02T02:00:00Z",
            },
        )
        FAILED_TASKS.clear()
        router.get(url__regex=r"/tasks/(?P<uid>\d+)").mock(
            side_effect=lambda request, uid: httpx.Response(
                200,
                json=_task_done(int(uid), "failed", FAILED_TASKS[int(uid)])
                if int(uid) in FAILED_TASKS
                else _task_done(int(uid)),
            )
        )
        yield router


async def test_configure_applies_settings_and_waits(meili: respx.MockRouter) -> None:
    settings = meili.patch("/indexes/listings/settings").respond(
        202, json=_task(1, "settingsUpdate")
    )

    await MeilisearchBackend(URL, "key").configure()

    body = json.loads(settings.calls.last.request.content)
    assert body["searchableAttributes"] == [
        "title",
        "keywords",
        "abstract",
        "owner_name",
        "ipc_codes",
    ]
    assert {"field_parent", "price_fen", "prefecture_code"} <= set(body["filterableAttributes"])
    assert body["localizedAttributes"][0]["locales"] == ["cmn"]
    assert set(body["synonyms"]["钕铁硼"]) == {"ndfeb", "稀土永磁", "钕磁铁"}
    assert settings.calls.last.request.headers["authorization"] == "Bearer key"
    assert meili.routes[1].called  # waited on the task


async def test_documents_are_sent_with_their_fingerprint(meili: respx.MockRouter) -> None:
    added = meili.post("/indexes/listings/documents").respond(
        202, json=_task(2, "documentAdditionOrUpdate")
    )

    await MeilisearchBackend(URL, None).index(corpus()[:2])

    sent = json.loads(added.calls.last.request.content)
    assert [d["title"] for d in sent] == [corpus()[0].title, corpus()[1].title]
    assert len(sent[0]["fingerprint"]) == 64
    assert isinstance(sent[0]["published_at_ts"], int)


async def test_a_failed_task_surfaces(meili: respx.MockRouter) -> None:
    meili.post("/indexes/listings/documents").respond(
        202, json=_task(3, "documentAdditionOrUpdate")
    )
    FAILED_TASKS[3] = {
        "message": "bad document",
        "code": "invalid_document_fields",
        "type": "invalid_request",
        "link": "https://docs.meilisearch.com/errors#invalid_document_fields",
    }

    with pytest.raises(SearchUnavailable):
        await MeilisearchBackend(URL, None).index(corpus()[:1])


async def test_search_request_and_answer(meili: respx.MockRouter) -> None:
    document = corpus()[0].model_dump(mode="json")
    searched = meili.post("/indexes/listings/search").respond(
        200,
        json={
            "hits": [
                {**document, "_formatted": {**document, "title": "高矫顽力烧结<em>钕铁硼</em>磁体"}}
            ],
            "query": "钕铁硼",
            "processingTimeMs": 1,
            "limit": 20,
            "offset": 0,
            "estimatedTotalHits": 1,
            "facetDistribution": {
                "field_parent": {"new_materials": 1},
                "kind": {"invention_patent": 1},
            },
        },
    )

    answer = await MeilisearchBackend(URL, None).search(
        SearchQuery(
            text="钕铁硼",
            filters=Filters(field="new_materials", region="1502", price_max_fen=100),
            sort="price_asc",
        )
    )

    body = json.loads(searched.calls.last.request.content)
    assert body["q"] == "钕铁硼"
    assert body["filter"] == (
        '(field_code = "new_materials" OR field_parent = "new_materials") AND '
        'prefecture_code = "150200" AND price_fen <= 100'
    )
    assert body["sort"] == ["price_fen:asc"]
    assert body["attributesToHighlight"] == ["title", "abstract"]
    assert set(body["facets"]) == {
        "field_parent",
        "kind",
        "transfer_type",
        "mode",
        "prefecture_code",
        "stage",
    }
    assert answer.total == 1
    assert answer.hits[0].highlights["title"] == "高矫顽力烧结<em>钕铁硼</em>磁体"
    assert answer.facets["field_parent"] == {"new_materials": 1}
    assert answer.facets["mode"] == {}


async def test_an_unreachable_server_is_search_unavailable(meili: respx.MockRouter) -> None:
    meili.post("/indexes/listings/search").mock(side_effect=httpx.ConnectError("refused"))
    meili.get("/health").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(SearchUnavailable):
        await MeilisearchBackend(URL, None).search(SearchQuery(text="稀土"))
    assert await MeilisearchBackend(URL, None).health() is False


async def test_the_api_answers_503_when_meilisearch_is_down(
    meili: respx.MockRouter, settings: Settings, clock: FrozenClock
) -> None:
    meili.post("/indexes/listings/search").mock(side_effect=httpx.ConnectError("refused"))
    app = create_app(settings.model_copy(update={"meili_url": URL}), clock=clock)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.get("/v1/search/listings", params={"q": "稀土"})
    await app.state.engine.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"

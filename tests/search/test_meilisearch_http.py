"""The Meilisearch backend at the socket: a loopback HTTP server in the test process
(pytest-httpserver) checks the requests Meilisearch's API reference documents — settings,
documents, tasks, search with filters, facets and `localizedAttributes` — and answers with the
documented responses, failed tasks and a server that is down included. Whatever transport the
client library uses, these requests cross a real socket. The same behaviour suite runs against a
real Meilisearch when MEILI_URL is set (`test_backends.py`)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.main import create_app
from search.backend import Filters, SearchQuery, SearchUnavailable
from search.meilisearch import MeilisearchBackend
from tests.conftest import served
from tests.search.corpus import corpus

INDEX = {
    "uid": "listings",
    "primaryKey": "id",
    "createdAt": "2026-11-02T02:00:00Z",
    "updatedAt": "2026-11-02T02:00:00Z",
}
INVALID_DOCUMENT = {
    "message": "Document identifier `x y` is invalid.",
    "code": "invalid_document_id",
    "type": "invalid_request",
    "link": "https://docs.meilisearch.com/errors#invalid_document_id",
}


def enqueued(uid: int, kind: str) -> dict[str, Any]:
    """A summarized task, as every asynchronous operation answers (202)."""
    return {
        "taskUid": uid,
        "indexUid": "listings",
        "status": "enqueued",
        "type": kind,
        "enqueuedAt": "2026-11-02T02:00:00Z",
    }


class Meilisearch:
    """The loopback server with the index and its tasks: a task is `processing` when first
    asked about, then `succeeded` — or `failed` with its error, for the uids in `failing`."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.url = server.url_for("").rstrip("/")
        self.failing: dict[int, dict[str, Any]] = {}
        self.polls: dict[int, int] = {}
        server.expect_request("/indexes/listings", method="GET").respond_with_json(INDEX)
        server.expect_request(re.compile(r"^/tasks/\d+$"), method="GET").respond_with_handler(
            self._task
        )

    def _task(self, request: Request) -> Response:
        uid = int(request.path.rsplit("/", 1)[1])
        self.polls[uid] = self.polls.get(uid, 0) + 1
        status = "processing" if self.polls[uid] == 1 else "succeeded"
        if status == "succeeded" and uid in self.failing:
            status = "failed"
        task = {
            "uid": uid, "indexUid": "listings", "status": status,
            "type": "documentAdditionOrUpdate", "canceledBy": None, "details": {},
            "error": self.failing.get(uid) if status == "failed" else None,
            "duration": "PT0.1S" if status != "processing" else None,
            "enqueuedAt": "2026-11-02T02:00:00Z", "startedAt": "2026-11-02T02:00:00Z",
            "finishedAt": "2026-11-02T02:00:01Z" if status != "processing" else None,
        }  # fmt: skip
        return Response(json.dumps(task), status=200, content_type="application/json")

    def sent(self, path: str, method: str) -> list[Request]:
        return [r for r, _ in self.server.log if r.path == path and r.method == method]


@pytest.fixture
def meili(httpserver: HTTPServer) -> Iterator[Meilisearch]:
    yield Meilisearch(httpserver)
    httpserver.check_assertions()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def test_configure_applies_settings_and_waits_for_the_task(meili: Meilisearch) -> None:
    meili.server.expect_request(
        "/indexes/listings/settings",
        method="PATCH",
        headers={"Authorization": "Bearer key"},
    ).respond_with_json(enqueued(1, "settingsUpdate"), status=202)

    await MeilisearchBackend(meili.url, "key").configure()

    body = meili.sent("/indexes/listings/settings", "PATCH")[0].get_json()
    assert body["searchableAttributes"] == [
        "title",
        "keywords",
        "abstract",
        "owner_name",
        "ipc_codes",
    ]
    assert {"field_parent", "price_fen", "prefecture_code"} <= set(body["filterableAttributes"])
    assert body["sortableAttributes"] == ["published_at_ts", "price_fen", "window_ends_at_ts"]
    assert body["faceting"]["maxValuesPerFacet"] == 200
    assert body["localizedAttributes"] == [
        {"locales": ["cmn"], "attributePatterns": ["title", "keywords", "abstract", "owner_name"]}
    ]
    assert set(body["synonyms"]["钕铁硼"]) == {"ndfeb", "稀土永磁", "钕磁铁"}
    assert meili.polls[1] == 2  # asked until it ended


async def test_a_missing_index_is_created_first(httpserver: HTTPServer) -> None:
    server = httpserver
    server.expect_ordered_request("/indexes/listings", method="GET").respond_with_json(
        {
            "message": "Index `listings` not found.",
            "code": "index_not_found",
            "type": "invalid_request",
            "link": "https://docs.meilisearch.com/errors#index_not_found",
        },
        status=404,
    )
    server.expect_ordered_request(
        "/indexes", method="POST", json={"uid": "listings", "primaryKey": "id"}
    ).respond_with_json(enqueued(7, "indexCreation"), status=202)
    meili = Meilisearch(server)
    meili.server.expect_request("/indexes/listings/settings", method="PATCH").respond_with_json(
        enqueued(8, "settingsUpdate"), status=202
    )

    await MeilisearchBackend(meili.url, None).configure()

    assert [r.method + " " + r.path for r, _ in server.log][:2] == [
        "GET /indexes/listings",
        "POST /indexes",
    ]


async def test_documents_are_sent_with_their_fingerprint_and_deleted_by_id(
    meili: Meilisearch,
) -> None:
    meili.server.expect_request(
        "/indexes/listings/documents", method="POST", query_string="primaryKey=id"
    ).respond_with_json(enqueued(2, "documentAdditionOrUpdate"), status=202)
    meili.server.expect_request(
        "/indexes/listings/documents/delete-batch", method="POST"
    ).respond_with_json(enqueued(3, "documentDeletion"), status=202)
    documents = corpus()[:2]

    await MeilisearchBackend(meili.url, None).index(documents)
    await MeilisearchBackend(meili.url, None).delete([documents[0].id])

    sent = meili.sent("/indexes/listings/documents", "POST")[0].get_json()
    assert [d["id"] for d in sent] == [str(d.id) for d in documents]
    assert [d["title"] for d in sent] == [d.title for d in documents]
    assert len(sent[0]["fingerprint"]) == 64
    assert isinstance(sent[0]["published_at_ts"], int)
    deleted = meili.sent("/indexes/listings/documents/delete-batch", "POST")[0].get_json()
    assert deleted == [str(documents[0].id)]
    assert meili.polls == {2: 2, 3: 2}


async def test_indexed_versions_are_read_page_by_page(meili: Meilisearch) -> None:
    documents = corpus()[:3]
    pages = iter([documents[:2], documents[2:]])

    def page(request: Request) -> Response:
        rows = next(pages)
        return Response(
            json.dumps(
                {
                    "results": [{"id": str(d.id), "fingerprint": f"f{d.id}"} for d in rows],
                    "offset": int(request.args["offset"]),
                    "limit": int(request.args["limit"]),
                    "total": 3,
                }
            ),
            content_type="application/json",
        )

    meili.server.expect_request("/indexes/listings/documents", method="GET").respond_with_handler(
        page
    )

    versions = await MeilisearchBackend(meili.url, None).indexed_versions()

    asked = meili.sent("/indexes/listings/documents", "GET")
    assert [(r.args["offset"], r.args["limit"]) for r in asked] == [("0", "1000"), ("2", "1000")]
    assert asked[0].args["fields"] == "id,fingerprint"
    assert versions == {d.id: f"f{d.id}" for d in documents}


async def test_a_failed_task_surfaces(meili: Meilisearch) -> None:
    meili.server.expect_request("/indexes/listings/documents", method="POST").respond_with_json(
        enqueued(4, "documentAdditionOrUpdate"), status=202
    )
    meili.failing[4] = INVALID_DOCUMENT

    with pytest.raises(SearchUnavailable, match="task 4 failed: invalid_document_id"):
        await MeilisearchBackend(meili.url, None).index(corpus()[:1])


async def test_a_refused_request_surfaces(meili: Meilisearch) -> None:
    meili.server.expect_request("/indexes/listings/search", method="POST").respond_with_json(
        {
            "message": "Attribute `owner_kind` is not sortable.",
            "code": "invalid_search_sort",
            "type": "invalid_request",
            "link": "https://docs.meilisearch.com/errors#invalid_search_sort",
        },
        status=400,
    )

    with pytest.raises(SearchUnavailable):
        await MeilisearchBackend(meili.url, None).search(SearchQuery(text="稀土"))


async def test_search_request_and_answer(meili: Meilisearch) -> None:
    document = corpus()[0].model_dump(mode="json")
    meili.server.expect_request("/indexes/listings/search", method="POST").respond_with_json(
        {
            "hits": [
                {
                    **document,
                    "fingerprint": "f",
                    "published_at_ts": 1793584800,
                    "_formatted": {**document, "title": "高矫顽力烧结<em>钕铁硼</em>磁体"},
                }
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
            "facetStats": {},
        }
    )

    answer = await MeilisearchBackend(meili.url, None).search(
        SearchQuery(
            text="钕铁硼",
            filters=Filters(field="new_materials", region="1502", price_max_fen=100),
            sort="price_asc",
            match="all",
        )
    )

    body = meili.sent("/indexes/listings/search", "POST")[0].get_json()
    assert body["q"] == "钕铁硼"
    assert body["filter"] == (
        '(field_code = "new_materials" OR field_parent = "new_materials") AND '
        'prefecture_code = "150200" AND price_fen <= 100'
    )
    assert body["sort"] == ["price_fen:asc"]
    assert body["attributesToHighlight"] == ["title", "abstract"]
    assert body["matchingStrategy"] == "all"
    assert body["locales"] == ["cmn"]
    assert (body["offset"], body["limit"]) == (0, 20)
    assert set(body["facets"]) == {
        "field_parent",
        "kind",
        "transfer_type",
        "mode",
        "prefecture_code",
        "stage",
    }
    assert answer.total == 1
    assert json.loads(answer.hits[0].document_json)["id"] == document["id"]
    assert "fingerprint" not in answer.hits[0].document_json
    assert answer.hits[0].highlights["title"] == "高矫顽力烧结<em>钕铁硼</em>磁体"
    assert answer.facets["field_parent"] == {"new_materials": 1}
    assert answer.facets["mode"] == {}


async def test_health_is_read_from_the_health_route(meili: Meilisearch) -> None:
    meili.server.expect_request("/health", method="GET").respond_with_json({"status": "available"})

    assert await MeilisearchBackend(meili.url, None).health() is True


async def test_a_server_that_is_down_is_search_unavailable() -> None:
    down = closed_port()

    with pytest.raises(SearchUnavailable):
        await MeilisearchBackend(down, None).search(SearchQuery(text="稀土"))
    with pytest.raises(SearchUnavailable):
        await MeilisearchBackend(down, None).index(corpus()[:1])
    assert await MeilisearchBackend(down, None).health() is False


async def test_the_api_answers_503_when_meilisearch_is_down(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings.model_copy(update={"meili_url": closed_port()}), clock=clock)

    async with served(app) as http:
        response = await http.get("/v1/search/listings", params={"q": "稀土"})
    await app.state.engine.dispose()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"

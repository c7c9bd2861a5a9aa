"""The Meilisearch backend (production), through the async meilisearch-python-sdk client.

Settings are applied by code at start-up (`configure`), and every write waits for its task,
so a failed task surfaces as an error here (and the outbox event is relayed again) instead of
a silently stale index.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchError
from meilisearch_python_sdk.models.settings import (
    Faceting,
    LocalizedAttributes,
    MeilisearchSettings,
    TypoTolerance,
)
from meilisearch_python_sdk.models.task import TaskInfo

from search.analysis import synonym_groups
from search.backend import FACETS, Hit, SearchAnswer, SearchQuery, SearchUnavailable
from search.documents import ListingDocument
from search.postgres import fingerprint

INDEX = "listings"
TASK_TIMEOUT_MS = 30_000

SETTINGS = MeilisearchSettings(
    # Ranked: a match in the title counts more than one in the keywords, then the abstract.
    searchable_attributes=["title", "keywords", "abstract", "owner_name", "ipc_codes"],
    filterable_attributes=[
        "field_code",
        "field_parent",
        "kind",
        "transfer_type",
        "mode",
        "price_fen",
        "stage",
        "province_code",
        "prefecture_code",
        "division_code",
        "owner_kind",
    ],
    sortable_attributes=["published_at_ts", "price_fen", "window_ends_at_ts"],
    faceting=Faceting(max_values_per_facet=200),
    typo_tolerance=TypoTolerance(enabled=True),
    localized_attributes=[
        LocalizedAttributes(
            locales=["cmn"], attribute_patterns=["title", "keywords", "abstract", "owner_name"]
        )
    ],
)

SORTS = {
    "newest": ["published_at_ts:desc"],
    "price_asc": ["price_fen:asc"],
    "price_desc": ["price_fen:desc"],
    "closing_soon": ["window_ends_at_ts:asc"],
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_expression(query: SearchQuery) -> list[str]:
    """Meilisearch filter clauses (ANDed) for the query's filters."""
    f = query.filters
    clauses = []
    if f.field:
        clauses.append(f"(field_code = {_quote(f.field)} OR field_parent = {_quote(f.field)})")
    for name in ("kind", "transfer_type", "mode", "stage"):
        value = getattr(f, name)
        if value:
            clauses.append(f"{name} = {_quote(value)}")
    if f.region:
        column = {2: "province_code", 4: "prefecture_code"}.get(len(f.region), "division_code")
        clauses.append(f"{column} = {_quote(f.region.ljust(6, '0'))}")
    if f.price_min_fen is not None:
        clauses.append(f"price_fen >= {f.price_min_fen}")
    if f.price_max_fen is not None:
        clauses.append(f"price_fen <= {f.price_max_fen}")
    return clauses


def to_meili(document: ListingDocument) -> dict[str, Any]:
    body = document.model_dump(mode="json")
    body["id"] = str(document.id)
    body["published_at_ts"] = int(document.published_at.timestamp())
    body["window_ends_at_ts"] = (
        int(document.window_ends_at.timestamp()) if document.window_ends_at else None
    )
    body["fingerprint"] = fingerprint(document)
    return body


class MeilisearchBackend:
    def __init__(self, url: str, key: str | None, *, index: str = INDEX) -> None:
        self.client = AsyncClient(url, key, timeout=10)
        self.index_uid = index

    async def _wait(self, task: TaskInfo) -> None:
        """Wait for the task to end; raises SearchUnavailable naming Meilisearch's error if it
        failed (the library's own error says only that it failed)."""
        result = await self.client.wait_for_task(task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS)
        if result.status != "succeeded":
            error = result.error or {}
            raise SearchUnavailable(
                f"Meilisearch task {task.task_uid} {result.status}: "
                f"{error.get('code', '')} {error.get('message', '')}".rstrip()
            )

    async def configure(self) -> None:
        try:
            index = await self.client.get_or_create_index(self.index_uid, primary_key="id")
            settings = SETTINGS.model_copy(update={"synonyms": self._synonyms()})
            await self._wait(await index.update_settings(settings))
        except MeilisearchError as error:
            raise SearchUnavailable(str(error)) from error

    @staticmethod
    def _synonyms() -> dict[str, list[str]]:
        return {term: [s for s in group if s != term] for term, group in synonym_groups().items()}

    async def health(self) -> bool:
        try:
            return (await self.client.health()).status == "available"
        except MeilisearchError:
            return False

    async def index(self, documents: Sequence[ListingDocument]) -> None:
        if not documents:
            return
        try:
            task = await self.client.index(self.index_uid).add_documents(
                [to_meili(document) for document in documents], primary_key="id"
            )
            await self._wait(task)
        except MeilisearchError as error:
            raise SearchUnavailable(str(error)) from error

    async def delete(self, ids: Sequence[uuid.UUID]) -> None:
        if not ids:
            return
        try:
            task = await self.client.index(self.index_uid).delete_documents([str(i) for i in ids])
            await self._wait(task)
        except MeilisearchError as error:
            raise SearchUnavailable(str(error)) from error

    async def indexed_versions(self) -> dict[uuid.UUID, str]:
        versions: dict[uuid.UUID, str] = {}
        offset = 0
        try:
            while True:
                page = await self.client.index(self.index_uid).get_documents(
                    offset=offset, limit=1000, fields=["id", "fingerprint"]
                )
                for row in page.results:
                    versions[uuid.UUID(row["id"])] = row.get("fingerprint", "")
                offset += len(page.results)
                if not page.results or offset >= page.total:
                    return versions
        except MeilisearchError as error:
            raise SearchUnavailable(str(error)) from error

    async def search(self, query: SearchQuery) -> SearchAnswer:
        try:
            results = await self.client.index(self.index_uid).search(
                query.text or None,
                offset=query.offset,
                limit=query.limit,
                filter=" AND ".join(filter_expression(query)) or None,
                facets=list(FACETS),
                sort=SORTS.get(query.sort),
                attributes_to_highlight=["title", "abstract"],
                matching_strategy="all" if query.match == "all" else "frequency",
                locales=["cmn"],
            )
        except MeilisearchError as error:
            raise SearchUnavailable(str(error)) from error
        hits = []
        for raw in results.hits:
            formatted = raw.get("_formatted") or {}
            document = ListingDocument.model_validate(
                {k: v for k, v in raw.items() if k in ListingDocument.model_fields}
            )
            hits.append(
                Hit(
                    document_json=document.model_dump_json(),
                    highlights={
                        "title": formatted.get("title", document.title),
                        "abstract": formatted.get("abstract", document.abstract),
                    },
                )
            )
        facets = {name: dict((results.facet_distribution or {}).get(name, {})) for name in FACETS}
        total = (
            results.total_hits
            if results.total_hits is not None
            else (results.estimated_total_hits or 0)
        )
        return SearchAnswer(hits=hits, total=total, facets=facets)

"""The SearchBackend protocol and the query/answer shapes every backend shares."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol

from search.documents import ListingDocument

Sort = Literal["relevance", "newest", "price_asc", "price_desc", "closing_soon"]
FACETS = ("field_parent", "kind", "transfer_type", "mode", "prefecture_code", "stage")


@dataclass(frozen=True)
class Filters:
    field: str | None = None  # a field code or a top-level field (its children match)
    kind: str | None = None
    transfer_type: str | None = None
    mode: str | None = None
    region: str | None = None  # a division code prefix: 15, 1502, 150203
    price_min_fen: int | None = None
    price_max_fen: int | None = None
    stage: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: Sort = "relevance"
    offset: int = 0
    limit: int = 20
    match: Literal["all", "any"] = "all"
    """`all`: every term must be found (searching); `any`: ranked by how many are (matching a
    demand's description against listings)."""


@dataclass(frozen=True)
class Hit:
    document_json: str
    """The listing's document as JSON text, as the index keeps it: the API answers with it as
    it is, never parsing and writing it again."""
    highlights: dict[str, str]
    """`title` and `abstract` with matched terms in <em>…</em> (HTML-escaped)."""

    @cached_property
    def document(self) -> ListingDocument:
        """The document read from its JSON, for code that looks into it."""
        return ListingDocument.model_validate_json(self.document_json)


@dataclass(frozen=True)
class SearchAnswer:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]


class SearchUnavailable(Exception):
    """The search engine cannot answer now (down, overloaded, misconfigured)."""


class SearchBackend(Protocol):
    """What the API and the sync need from a search engine."""

    async def configure(self) -> None:
        """Create the index and apply its settings (idempotent)."""
        ...

    async def index(self, documents: Sequence[ListingDocument]) -> None:
        """Add or replace documents by id."""
        ...

    async def delete(self, ids: Sequence[uuid.UUID]) -> None: ...

    async def search(self, query: SearchQuery) -> SearchAnswer: ...

    async def indexed_versions(self) -> dict[uuid.UUID, str]:
        """id → a fingerprint of each indexed document (for the drift check)."""
        ...

    async def health(self) -> bool: ...

"""Keeping the index in step with the marketplace: documents, sync, reindex, drift.

The marketplace never waits on the index: listing changes go to the outbox, and the worker
brings the index up to date (and catches up after an outage, since a failed sync leaves its
event to be relayed again).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.reads import ReadPool
from app.listings import service as listings
from app.listings.queries import ListingView
from app.results.taxonomy import fields, stage_of
from search.backend import SearchBackend
from search.documents import ListingDocument
from search.meilisearch import MeilisearchBackend
from search.postgres import PostgresBackend, fingerprint


def document_of(view: ListingView, auction_state: str | None) -> ListingDocument:
    listing, result, owner = view.listing, view.result, view.organization
    assert listing.published_at is not None
    field_code = result.field_code
    return ListingDocument(
        id=listing.id,
        result_id=result.id,
        title=result.title,
        abstract=result.abstract,
        keywords=list(result.keywords),
        field_code=field_code,
        field_parent=fields()[field_code].parent or field_code,
        kind=result.kind.value,
        transfer_type=listing.transfer_type.value,
        mode=listing.mode.value,
        price_fen=listing.price_fen,
        trl=result.trl,
        stage=stage_of(result.trl),
        division_code=result.division_code,
        prefecture_code=result.division_code[:4] + "00",
        province_code=result.division_code[:2] + "0000",
        owner_id=owner.id,
        owner_kind=owner.kind.value,
        owner_name=owner.name,
        ipc_codes=list(result.ipc_codes),
        published_at=listing.published_at,
        window_ends_at=listing.window_ends_at,
        auction_state=auction_state,
    )


async def _documents(session: AsyncSession, views: list[ListingView]) -> list[ListingDocument]:
    states = await listings.auction_states(session, [view.listing.id for view in views])
    return [document_of(view, states.get(view.listing.id)) for view in views]


async def documents_for(
    session: AsyncSession, listing_ids: Sequence[uuid.UUID]
) -> list[ListingDocument]:
    """Documents of those of `listing_ids` that belong in the index."""
    return await _documents(session, await listings.indexable_views(session, ids=listing_ids))


async def sync_listings(
    session: AsyncSession, backend: SearchBackend, listing_ids: Sequence[uuid.UUID]
) -> None:
    """Index the listings that belong in the index and delete the others (idempotent)."""
    documents = await documents_for(session, listing_ids)
    await backend.index(documents)
    indexed = {document.id for document in documents}
    await backend.delete([listing_id for listing_id in listing_ids if listing_id not in indexed])


async def _document_batches(
    sessionmaker: async_sessionmaker[AsyncSession], batch: int
) -> AsyncIterator[list[ListingDocument]]:
    """Every document that belongs in the index, a batch (and a short session) at a time."""
    after: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session:
            views = await listings.indexable_views(session, after=after, limit=batch)
            documents = await _documents(session, views)
        if not documents:
            return
        yield documents
        after = documents[-1].id


async def reindex(
    sessionmaker: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    *,
    batch: int = 1000,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Rebuild the index from the database; documents of listings gone from it are removed."""
    await backend.configure()
    seen: set[uuid.UUID] = set()
    async for documents in _document_batches(sessionmaker, batch):
        await backend.index(documents)
        seen.update(document.id for document in documents)
        progress(len(documents))
    stale = [
        listing_id for listing_id in await backend.indexed_versions() if listing_id not in seen
    ]
    await backend.delete(stale)
    return len(seen)


@dataclass
class Drift:
    """How the index differs from the database."""

    missing: list[uuid.UUID] = field(default_factory=list)
    stale: list[uuid.UUID] = field(default_factory=list)
    extra: list[uuid.UUID] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


async def drift(
    sessionmaker: async_sessionmaker[AsyncSession], backend: SearchBackend, *, batch: int = 1000
) -> Drift:
    """Documents missing from the index, indexed but out of date, or indexed but not on sale."""
    indexed = await backend.indexed_versions()
    report = Drift()
    expected: set[uuid.UUID] = set()
    async for documents in _document_batches(sessionmaker, batch):
        for document in documents:
            expected.add(document.id)
            if document.id not in indexed:
                report.missing.append(document.id)
            elif indexed[document.id] != fingerprint(document):
                report.stale.append(document.id)
    report.extra = [listing_id for listing_id in indexed if listing_id not in expected]
    return report


def backend_for(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    reads: ReadPool | None = None,
) -> SearchBackend:
    """Meilisearch when MEILI_URL is set, else the PostgreSQL backend."""
    if settings.meili_url:
        key = settings.meili_key.get_secret_value() if settings.meili_key else None
        return MeilisearchBackend(settings.meili_url, key)
    return PostgresBackend(sessionmaker, reads)

"""The PostgreSQL search backend: the embedded default, with no extension needed.

Text is segmented in Python (rjieba, search mode) and stored as a `tsvector` of the 'simple'
configuration, weighted title > keywords > abstract > owner/IPC; a GIN index finds matches,
`ts_rank` orders them, and one GROUPING SETS query counts every facet and the total at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    bindparam,
    delete,
    desc,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from search.analysis import (
    Term,
    highlight,
    query_terms,
    segment,
    segment_query,
    synonym_groups,
    synonyms_of,
)
from search.backend import FACETS, Hit, SearchAnswer, SearchQuery, SearchUnavailable
from search.documents import ListingDocument
from search.models import IndexedListing as T

# ts_rank weights, in the order {D, C, B, A}.
RANK_WEIGHTS = "{0.05, 0.2, 0.4, 1.0}"


def fingerprint(document: ListingDocument) -> str:
    return hashlib.sha256(document.model_dump_json().encode()).hexdigest()


def _lexeme(token: str, prefix: bool) -> str:
    return "'" + token.replace("'", "''").replace("\\", "\\\\") + "'" + (":*" if prefix else "")


def _alternative(phrase: str, prefix: bool) -> str:
    # A phrase the index holds as several words (稀土永磁 → 稀土 永磁) must match them in a row.
    tokens = segment_query(phrase) or [phrase]
    parts = [_lexeme(token, prefix and i == len(tokens) - 1) for i, token in enumerate(tokens)]
    return " <-> ".join(parts)


def tsquery_text(terms: Sequence[Term], *, any_term: bool = False) -> str:
    """A `to_tsquery('simple', …)` expression: every term (or a synonym of it) must match,
    or with `any_term` at least one."""
    groups = []
    for term in terms:
        alternatives = [
            _alternative(term.text, term.prefix)
            if term.text in synonym_groups()
            else _lexeme(term.text, term.prefix)
        ]
        alternatives += [_alternative(s, False) for s in synonyms_of(term.text) if s != term.text]
        groups.append("(" + " | ".join(alternatives) + ")")
    return (" | " if any_term else " & ").join(groups)


SIMPLE = text("'simple'::regconfig")


def _weighted(*parts: tuple[str, str]) -> ColumnElement[Any]:
    """`setweight(to_tsvector('simple', :a), 'A') || …` over pre-segmented text parameters."""
    pieces = [
        func.setweight(
            func.to_tsvector(SIMPLE, bindparam(name, type_=Text)), literal_column(f"'{weight}'")
        )
        for name, weight in parts
    ]
    vector: ColumnElement[Any] = pieces[0]
    for piece in pieces[1:]:
        vector = vector.op("||")(piece)
    return vector


class PostgresBackend:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def configure(self) -> None:
        """The table and its indexes come with the migrations; nothing to do at start-up."""

    async def health(self) -> bool:
        try:
            async with self.sessionmaker() as session:
                await session.execute(select(1))
        except (OSError, DBAPIError):
            return False
        return True

    async def index(self, documents: Sequence[ListingDocument]) -> None:
        if not documents:
            return
        rows = [self._row(document) for document in documents]
        statement = insert(T).values(
            id=bindparam("id"),
            document=bindparam("document"),
            fingerprint=bindparam("fingerprint"),
            terms=_weighted(("t_a", "A"), ("t_b", "B"), ("t_c", "C"), ("t_d", "D")),
            field_code=bindparam("field_code"),
            field_parent=bindparam("field_parent"),
            kind=bindparam("kind"),
            transfer_type=bindparam("transfer_type"),
            mode=bindparam("mode"),
            price_fen=bindparam("price_fen"),
            stage=bindparam("stage"),
            province_code=bindparam("province_code"),
            prefecture_code=bindparam("prefecture_code"),
            division_code=bindparam("division_code"),
            published_at=bindparam("published_at"),
            window_ends_at=bindparam("window_ends_at"),
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[T.id],
            set_={
                "terms": excluded.terms,
                **{
                    column: getattr(excluded, column)
                    for column in rows[0]
                    if not column.startswith("t_") and column != "id"
                },
            },
        )
        async with self._session() as session, session.begin():
            await session.execute(statement, rows)

    def _row(self, document: ListingDocument) -> dict[str, Any]:
        return {
            "id": document.id,
            "document": document.model_dump(mode="json"),
            "fingerprint": fingerprint(document),
            "t_a": " ".join(segment(document.title)),
            "t_b": " ".join(token for keyword in document.keywords for token in segment(keyword)),
            "t_c": " ".join(segment(document.abstract)),
            "t_d": " ".join(
                [
                    *segment(document.owner_name),
                    *(c.lower().replace(" ", "") for c in document.ipc_codes),
                ]
            ),
            "field_code": document.field_code,
            "field_parent": document.field_parent,
            "kind": document.kind,
            "transfer_type": document.transfer_type,
            "mode": document.mode,
            "price_fen": document.price_fen,
            "stage": document.stage,
            "province_code": document.province_code,
            "prefecture_code": document.prefecture_code,
            "division_code": document.division_code,
            "published_at": document.published_at,
            "window_ends_at": document.window_ends_at,
        }

    async def delete(self, ids: Sequence[uuid.UUID]) -> None:
        if not ids:
            return
        async with self._session() as session, session.begin():
            await session.execute(delete(T).where(T.id.in_(list(ids))))

    async def indexed_versions(self) -> dict[uuid.UUID, str]:
        async with self._session() as session:
            rows = await session.execute(select(T.id, T.fingerprint))
            return {row[0]: row[1] for row in rows}

    def _session(self) -> AsyncSession:
        return self.sessionmaker()

    async def _rows(self, statement: Select[Any]) -> Sequence[Any]:
        async with self._session() as session:
            rows: Sequence[Any] = (await session.execute(statement)).all()
            return rows

    async def search(self, query: SearchQuery) -> SearchAnswer:
        terms = query_terms(query.text)
        conditions: list[ColumnElement[bool]] = list(_filters(query))
        rank: ColumnElement[Any] = literal(0.0)
        if terms:
            tsquery = func.to_tsquery(SIMPLE, tsquery_text(terms, any_term=query.match == "any"))
            conditions.append(T.terms.op("@@")(tsquery))
            rank = func.ts_rank(text(f"'{RANK_WEIGHTS}'::float4[]"), T.terms, tsquery)
        where = conditions or [true()]
        page: Select[Any] = (
            select(T.document, rank.label("rank"))
            .where(*where)
            .order_by(*_ordering(query, terms, rank))
            .offset(query.offset)
            .limit(query.limit)
        )
        columns = [getattr(T, name) for name in FACETS]
        # One pass counts every facet and, in the empty grouping set, the total.
        facet_query = (
            select(*columns, func.grouping(*columns), func.count())
            .where(*where)
            .group_by(func.grouping_sets(*[tuple_(column) for column in columns], text("()")))
        )
        try:
            # Two connections: the page and the counts are computed at the same time.
            rows, facet_rows = await asyncio.gather(self._rows(page), self._rows(facet_query))
        except (OSError, OperationalError) as error:
            raise SearchUnavailable(str(error)) from error
        facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        total = 0
        everything = (1 << len(FACETS)) - 1
        for row in facet_rows:
            mask, count = row[len(FACETS)], row[len(FACETS) + 1]
            if mask == everything:
                total = count
                continue
            for position, name in enumerate(FACETS):
                # GROUPING() clears bit (n-1-i) for the column a row is grouped by.
                if not mask & (1 << (len(FACETS) - 1 - position)):
                    facets[name][row[position]] = count
        hits = [
            Hit(
                document=(document := ListingDocument.model_validate(row[0])),
                highlights={
                    "title": highlight(document.title, terms),
                    "abstract": highlight(document.abstract, terms),
                },
            )
            for row in rows
        ]
        return SearchAnswer(hits=hits, total=total, facets=facets)


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    f = query.filters
    conditions: list[ColumnElement[bool]] = []
    if f.field:
        conditions.append(or_(T.field_code == f.field, T.field_parent == f.field))
    for name in ("kind", "transfer_type", "mode", "stage"):
        value = getattr(f, name)
        if value:
            conditions.append(getattr(T, name) == value)
    if f.region:
        column = {2: T.province_code, 4: T.prefecture_code}.get(len(f.region), T.division_code)
        conditions.append(column == f.region.ljust(6, "0"))
    if f.price_min_fen is not None:
        conditions.append(T.price_fen >= f.price_min_fen)
    if f.price_max_fen is not None:
        conditions.append(T.price_fen <= f.price_max_fen)
    return conditions


def _ordering(query: SearchQuery, terms: list[Term], rank: ColumnElement[Any]) -> list[Any]:
    tie = [desc(T.published_at), T.id]
    if query.sort == "newest" or (query.sort == "relevance" and not terms):
        return tie
    if query.sort == "price_asc":
        return [T.price_fen.asc().nulls_last(), *tie]
    if query.sort == "price_desc":
        return [T.price_fen.desc().nulls_last(), *tie]
    if query.sort == "closing_soon":
        return [T.window_ends_at.asc().nulls_last(), *tie]
    return [desc(rank), *tie]

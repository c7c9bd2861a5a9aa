"""The PostgreSQL search backend: the embedded default, with no extension needed.

Text is segmented in Python (rjieba, search mode) and stored as a `tsvector` of the 'simple'
configuration, weighted title > keywords > abstract > owner/IPC; a GIN index finds matches,
`ts_rank` orders them, and GROUPING SETS count every facet and the total at once — the page and
the counts in one statement over the matches found once.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Text,
    bindparam,
    cast,
    delete,
    desc,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from app.core.db import ReadModel
from app.core.reads import BROKEN, PreparedRead, ReadPool
from search.analysis import (
    Term,
    highlighter,
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


@functools.lru_cache(maxsize=4096)
def tsquery_text(terms: tuple[Term, ...], *, any_term: bool = False) -> str:
    """A `to_tsquery('simple', …)` expression: every term (or a synonym of it) must match,
    or with `any_term` at least one. Kept for the latest few thousand queries, as their terms
    are (`query_terms`)."""
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


def parsed_tsquery(value: str | BindParameter[str]) -> ColumnElement[Any]:
    """`to_tsquery('simple', value)` (`value` from `tsquery_text`) as a FROM item, parsed once
    per statement. Called in the WHERE clause, a prepared statement's generic plan would parse
    it again for every row tested, so PostgreSQL priced that plan above planning each search
    anew and planned every one: a typical search of the demo market cost 370 µs of the server's
    CPU, now 170 (the generic plan is kept after five runs; 2 cores, 2026-12-06)."""
    return func.to_tsquery(SIMPLE, value).column_valued("query")


def matching(
    vector: InstrumentedAttribute[Any], tsquery: ColumnElement[Any]
) -> ColumnElement[bool]:
    """`vector @@ tsquery`, a comparison that joins the vector's table to the query's FROM item
    (`parsed_tsquery`) as SQLAlchemy's cartesian-product check sees it."""
    return vector.bool_op("@@")(tsquery)


def text_rank(
    vector: InstrumentedAttribute[Any], tsquery: ColumnElement[Any]
) -> ColumnElement[float]:
    """How well a weighted vector matches: `ts_rank` with the weights title > keywords >
    abstract > the rest (`RANK_WEIGHTS`)."""
    return func.ts_rank(text(f"'{RANK_WEIGHTS}'::float4[]"), vector, tsquery)


def weighted_vector(*parts: tuple[ColumnElement[Any], str]) -> ColumnElement[Any]:
    """`setweight(to_tsvector('simple', :a), 'A') || …` over pre-segmented texts (`segment`,
    joined by spaces), each with its weight: what the index searches."""
    pieces = [
        func.setweight(func.to_tsvector(SIMPLE, value), literal_column(f"'{weight}'"))
        for value, weight in parts
    ]
    vector: ColumnElement[Any] = pieces[0]
    for piece in pieces[1:]:
        vector = vector.op("||")(piece)
    return vector


class PostgresBackend:
    """Writes go through the sessions of `sessionmaker`; searches are single statements on
    the read pool (`app.core.reads`), the engine's own unless one is given."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], reads: ReadPool | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.reads = reads or ReadPool(sessionmaker.kw["bind"])

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
            terms=weighted_vector(
                *((bindparam(f"t_{w.lower()}", type_=Text), w) for w in ("A", "B", "C", "D"))
            ),
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

    async def search(self, query: SearchQuery) -> SearchAnswer:
        terms = query_terms(query.text)
        f = query.filters
        values = {
            name: value for name, value in vars(f).items() if value is not None and value != ""
        }
        if f.region:
            values["region"] = f.region.ljust(6, "0")
        shape = _Shape(
            terms=bool(terms),
            filters=tuple(sorted(values)),
            region_digits=len(f.region) if f.region else 0,
            sort=query.sort,
        )
        if terms:
            values["tsquery"] = tsquery_text(terms, any_term=query.match == "any")
        try:
            rows = await self.reads.all(
                _statement(shape), offset=query.offset, limit=query.limit, **values
            )
        except (OSError, *BROKEN) as error:
            raise SearchUnavailable(str(error)) from error
        # The page's rows come first (part 0, in order), then the facet counts (part 1).
        split = next((i for i, row in enumerate(rows) if row[0]), len(rows))
        total, facets = read_facet_counts([row[5:] for row in rows[split:]], FACETS)
        highlight = highlighter(terms)
        hits = [
            Hit(
                document_json=row[2],
                highlights={"title": highlight(row[3]), "abstract": highlight(row[4])},
            )
            for row in rows[:split]
        ]
        return SearchAnswer(hits=hits, total=total, facets=facets)


class _Shape(NamedTuple):
    """What decides a search's SQL: whether it has words, which filters it sets, the level of
    its region and its order. Its values are the statement's parameters, so each shape is
    compiled once per process and prepared once per connection."""

    terms: bool
    filters: tuple[str, ...]
    region_digits: int
    sort: str


@functools.lru_cache(maxsize=512)
def _statement(shape: _Shape) -> PreparedRead:
    """The page and the facet counts of searches of one shape, in one statement: the matches
    are found once (the `hits` CTE: what the order and the counts need, not the documents),
    the page's documents read for its rows only, and the answer comes in one round trip.
    Each row is (part, position, document, title, abstract, *facets, grouping, count): the
    page's rows are part 0 in their order, the counts part 1."""
    conditions = _filters(shape)
    rank: ColumnElement[Any] = literal(0.0)
    if shape.terms:
        tsquery = parsed_tsquery(bindparam("tsquery", type_=Text))
        conditions.append(matching(T.terms, tsquery))
        rank = text_rank(T.terms, tsquery)
    hits = (
        select(
            T.id,
            T.published_at,
            T.price_fen,
            T.window_ends_at,
            rank.label("rank"),
            *(getattr(T, name) for name in FACETS),
        )
        .where(*(conditions or [true()]))
        .cte("hits")
    )
    ordering = _ordering(shape.sort, shape.terms, hits.c)
    # The hits are ordered and cut to the page before any document is read: only the page's
    # rows fetch theirs (a search with 2,000 hits read 2,000 documents to show 20).
    chosen = (
        select(hits.c.id, func.row_number().over(order_by=ordering).label("position"))
        .order_by(*ordering)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
        .subquery("chosen")
    )
    page = (
        select(
            literal_column("0").label("part"),
            chosen.c.position,
            cast(T.document, Text).label("document"),
            T.document["title"].astext.label("title"),
            T.document["abstract"].astext.label("abstract"),
            *(null().label(name) for name in FACETS),
            cast(null(), Integer).label("grouping"),
            cast(null(), BigInteger).label("count"),
        )
        .select_from(chosen.join(T, T.id == chosen.c.id))
        .subquery()
    )
    counts = facet_counts_select([hits.c[name] for name in FACETS], []).subquery()
    both = union_all(
        select(page),
        select(literal_column("1"), null(), null(), null(), null(), *counts.c),
    ).subquery()
    return PreparedRead(select(both).order_by(both.c.part, both.c.position))


def facet_counts_select(
    columns: Sequence[ColumnElement[Any]], where: Sequence[ColumnElement[bool]]
) -> ReadModel:
    """One pass that counts the rows per value of each facet column and, in the empty
    grouping set, all of them; read its rows with `read_facet_counts`."""
    return (
        select(*columns, func.grouping(*columns), func.count())
        .where(*where)
        .group_by(func.grouping_sets(*[tuple_(column) for column in columns], text("()")))
    )


def read_facet_counts(
    rows: Sequence[Sequence[Any]], names: Sequence[str]
) -> tuple[int, dict[str, dict[str, int]]]:
    """The total and the counts per facet value from the rows of `facet_counts_select` over
    the facets `names`, in the order of its columns."""
    facets: dict[str, dict[str, int]] = {name: {} for name in names}
    total = 0
    everything = (1 << len(names)) - 1
    for row in rows:
        mask, count = row[len(names)], row[len(names) + 1]
        if mask == everything:
            total = count
            continue
        for position, name in enumerate(names):
            # GROUPING() clears bit (n-1-i) for the column a row is grouped by.
            if not mask & (1 << (len(names) - 1 - position)):
                facets[name][row[position]] = count
    return total, facets


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if "field" in shape.filters:
        conditions.append(
            or_(T.field_code == bindparam("field"), T.field_parent == bindparam("field"))
        )
    for name in ("kind", "transfer_type", "mode", "stage"):
        if name in shape.filters:
            conditions.append(getattr(T, name) == bindparam(name))
    if "region" in shape.filters:
        column = {2: T.province_code, 4: T.prefecture_code}.get(
            shape.region_digits, T.division_code
        )
        conditions.append(column == bindparam("region"))
    if "price_min_fen" in shape.filters:
        conditions.append(T.price_fen >= bindparam("price_min_fen"))
    if "price_max_fen" in shape.filters:
        conditions.append(T.price_fen <= bindparam("price_max_fen"))
    return conditions


def _ordering(sort: str, terms: bool, hits: Any) -> list[Any]:
    """The order of the page over the `hits` CTE's columns; the newest first breaks ties."""
    tie = [desc(hits.published_at), hits.id]
    if sort == "newest" or (sort == "relevance" and not terms):
        return tie
    if sort == "price_asc":
        return [hits.price_fen.asc().nulls_last(), *tie]
    if sort == "price_desc":
        return [hits.price_fen.desc().nulls_last(), *tie]
    if sort == "closing_soon":
        return [hits.window_ends_at.asc().nulls_last(), *tie]
    return [desc(hits.rank), *tie]

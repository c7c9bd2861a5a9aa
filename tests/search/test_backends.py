"""One behaviour suite for every search backend: PostgreSQL always, Meilisearch when MEILI_URL
is set (then against the real server)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from search.backend import Filters, SearchBackend, SearchQuery
from search.postgres import PostgresBackend, _Shape, _statement
from tests.search.corpus import corpus, title_of

BACKENDS = ["postgres"] + (["meilisearch"] if os.environ.get("MEILI_URL") else [])


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[SearchBackend]:
    if request.param == "postgres":
        engine: SearchBackend = PostgresBackend(sessionmaker)
    else:  # pragma: no cover - needs a Meilisearch server
        from search.meilisearch import MeilisearchBackend

        engine = MeilisearchBackend(
            os.environ["MEILI_URL"],
            os.environ.get("MEILI_KEY"),
            index=f"test_{uuid.uuid4().hex[:8]}",
        )
    await engine.configure()
    await engine.index(corpus())
    yield engine
    if isinstance(engine, PostgresBackend):
        await engine.reads.close()
    if request.param == "meilisearch":  # pragma: no cover
        await engine.client.delete_index_if_exists(engine.index_uid)  # type: ignore[attr-defined]


RELEVANCE = [
    ("钕铁硼", 1),
    ("NdFeB", 1),  # synonym, Latin
    ("稀土永磁", 1),  # synonym written as two words
    ("钕铁", 1),  # the start of a word
    ("矫顽", 1),  # search-as-you-type
    ("抛光粉", 2),
    ("风电 除冰", 3),
    ("风力发电 功率预测", 4),  # synonym of 风电
    ("光伏 清扫", 5),
    ("单晶硅", 6),
    ("制氢", 7),
    ("电解液", 8),  # in 8's title and only in 7's abstract: title ranks first
    ("甲醇制烯烃", 9),
    ("褐煤", 10),
    ("低乳糖", 11),
    ("益生菌", 12),
    ("蒙医药", 13),  # synonym of 蒙药
    ("肉苁蓉", 14),
    ("沙障", 15),
    ("防沙治沙 遥感", 16),  # synonym of 荒漠化
    ("深度学习 缺陷", 17),
    ("大数据", 18),
    ("自动驾驶", 19),  # synonym of 无人驾驶
    ("节水灌溉", 20),  # synonym of 滴灌
    ("graphene", 21),  # synonym of 石墨烯
    ("脱硫脱硝", 22),
    ("绒山羊", 23),
    ("苜蓿", 24),
]


@pytest.mark.parametrize(("text", "expected"), RELEVANCE, ids=[q for q, _ in RELEVANCE])
async def test_relevance(backend: SearchBackend, text: str, expected: int) -> None:
    answer = await backend.search(SearchQuery(text=text))

    assert answer.hits, f"nothing found for {text}"
    assert answer.hits[0].document.title == title_of(expected)


async def test_title_matches_outrank_abstract_matches(backend: SearchBackend) -> None:
    answer = await backend.search(SearchQuery(text="电解液"))

    assert [hit.document.title for hit in answer.hits[:2]] == [title_of(8), title_of(7)]


async def test_synonyms_find_every_member_of_a_group(backend: SearchBackend) -> None:
    answer = await backend.search(SearchQuery(text="乳制品"))

    assert {hit.document.title for hit in answer.hits} == {title_of(11), title_of(12)}


async def test_nothing_found_is_an_empty_answer(backend: SearchBackend) -> None:
    answer = await backend.search(SearchQuery(text="量子计算机"))

    assert (answer.hits, answer.total) == ([], 0)


async def test_highlights_mark_matches(backend: SearchBackend) -> None:
    answer = await backend.search(SearchQuery(text="钕铁硼"))

    assert "<em>钕铁硼</em>" in answer.hits[0].highlights["title"]


@pytest.mark.parametrize(
    "filters",
    [
        Filters(field="new_energy"),
        Filters(field="new_energy.wind"),
        Filters(kind="invention_patent"),
        Filters(mode="negotiable"),
        Filters(region="15"),
        Filters(region="1502"),
        Filters(region="150105"),
        Filters(price_min_fen=20_000_000, price_max_fen=100_000_000),
        Filters(stage="industrialized", kind="software_copyright"),
    ],
)
async def test_filters_and_facets_are_exact(backend: SearchBackend, filters: Filters) -> None:
    expected = [d for d in corpus() if _matches(d, filters)]

    answer = await backend.search(SearchQuery(filters=filters, limit=100))

    assert answer.total == len(expected)
    assert {hit.document.id for hit in answer.hits} == {d.id for d in expected}
    for facet in ("field_parent", "kind", "mode", "stage", "prefecture_code"):
        assert answer.facets[facet] == dict(Counter(getattr(d, facet) for d in expected)), facet


def _matches(document, filters: Filters) -> bool:  # type: ignore[no-untyped-def]
    return (
        (filters.field is None or filters.field in {document.field_code, document.field_parent})
        and (filters.kind is None or document.kind == filters.kind)
        and (filters.mode is None or document.mode == filters.mode)
        and (filters.stage is None or document.stage == filters.stage)
        and (filters.region is None or document.division_code.startswith(filters.region))
        and (filters.price_min_fen is None or (document.price_fen or -1) >= filters.price_min_fen)
        and (
            filters.price_max_fen is None
            or (document.price_fen is not None and document.price_fen <= filters.price_max_fen)
        )
    )


async def test_sorting_and_paging(backend: SearchBackend) -> None:
    priced = sorted((d for d in corpus() if d.price_fen), key=lambda d: d.price_fen or 0)

    first = await backend.search(
        SearchQuery(sort="price_asc", limit=5, filters=Filters(mode="fixed_price"))
    )
    second = await backend.search(
        SearchQuery(sort="price_asc", limit=5, offset=5, filters=Filters(mode="fixed_price"))
    )
    newest = await backend.search(SearchQuery(sort="newest", limit=1))

    fixed = [d for d in priced if d.mode == "fixed_price"]
    assert [h.document.id for h in first.hits + second.hits] == [d.id for d in fixed[:10]]
    assert newest.hits[0].document.title == title_of(24)


async def test_delete_and_reindex_replace(backend: SearchBackend) -> None:
    documents = corpus()
    await backend.delete([documents[0].id])
    renamed = documents[1].model_copy(update={"title": "稀土抛光粉（新版）"})
    await backend.index([renamed])

    gone = await backend.search(SearchQuery(text="钕铁硼"))
    versions = await backend.indexed_versions()

    assert title_of(1) not in {hit.document.title for hit in gone.hits}
    assert documents[0].id not in versions
    assert (await backend.search(SearchQuery(text="新版"))).hits[
        0
    ].document.title == "稀土抛光粉（新版）"


async def test_typos_are_forgiven_where_the_engine_can(
    backend: SearchBackend, request: pytest.FixtureRequest
) -> None:
    if isinstance(backend, PostgresBackend):
        pytest.skip("the PostgreSQL backend has no typo tolerance (Meilisearch does)")
    answer = await backend.search(SearchQuery(text="graphen"))  # pragma: no cover

    assert answer.hits[0].document.title == title_of(21)  # pragma: no cover


async def test_a_search_parses_its_words_once_in_a_generic_plan(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """PostgreSQL keeps a prepared statement's generic plan after five runs; there a
    `to_tsquery($n)` in the WHERE clause was parsed again for every row it tested."""
    statement = _statement(
        _Shape(terms=True, filters=("field",), region_digits=0, sort="relevance")
    )
    values = statement.arguments(
        {"tsquery": "'稀土' & '永磁':*", "field": "new_materials", "offset": 0, "limit": 20}
    )
    literals = ", ".join(
        str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
        for value in values
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        connection = (await (await session.connection()).get_raw_connection()).driver_connection
        await connection.execute("PREPARE search AS " + statement.sql)
        plan = [
            row[0] for row in await connection.fetch(f"EXPLAIN VERBOSE EXECUTE search({literals})")
        ]

    tested = [line for line in plan if "Filter:" in line or "Cond:" in line]
    assert tested, "\n".join(plan)
    assert not any("to_tsquery" in line for line in tested), "\n".join(plan)
    assert any("Function Scan on pg_catalog.to_tsquery" in line for line in plan), "\n".join(plan)

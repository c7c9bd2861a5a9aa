"""Searching the challenges (揭榜挂帅) with the listings' Chinese search: words found in the
title, indicators and problem (synonyms and a prefix too), filters and facet counts for field,
status and money on offer, highlights, ranked pages — and never a challenge before its
publication."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from app.core.clock import FrozenClock
from tests.challenges.test_challenges_api import DUE, challenge, posted_demand
from tests.challenges.test_proposals_api import published
from tests.factories import MarketFactory

MAGNETS = {
    "title": "高性能钕铁硼磁体晶界扩散工艺",
    "problem": "现有烧结磁体矫顽力不足，需要低重稀土用量的晶界扩散工艺，提升高温稳定性。",
    "indicators": [{"name": "矫顽力", "target": "≥ 25 kOe"}],
    "field_code": "new_materials.rare_earths",
    "budget_min": None,
    "budget_max": None,
    "prize": {"amount": "3000000", "currency": "CNY"},
}
ALUMINA = {
    "title": "高纯氧化铝粉体制备",
    "problem": "锂电隔膜涂覆用高纯氧化铝粉体杂质偏高，需要新的提纯与粒度控制工艺。",
    "indicators": [{"name": "纯度", "target": "≥ 99.99%"}],
    "field_code": "new_materials.metals",
    "budget_min": {"amount": "200000", "currency": "CNY"},
    "budget_max": {"amount": "400000", "currency": "CNY"},
}


async def test_words_filters_facets_and_pages(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    _, wind = await published(client, factory)  # 风电叶片除冰, a budget up to 1,000,000
    clock.advance(timedelta(minutes=1))
    _, magnets = await published(client, factory, **MAGNETS)
    clock.advance(timedelta(minutes=1))
    _, alumina = await published(
        client, factory, **ALUMINA, proposals_due_at=(clock.now() + timedelta(days=20)).isoformat()
    )
    owner, demand = await posted_demand(client, factory)
    unpublished = await client.post(
        "/v1/challenges", json=challenge(demand, title="未发布的除冰需求"), headers=owner.headers
    )
    search = "/v1/search/challenges"

    by_word = await client.get(search, params={"q": "除冰"})
    by_synonym = await client.get(search, params={"q": "NdFeB"})
    by_indicator = await client.get(search, params={"q": "矫顽力"})
    by_prefix = await client.get(search, params={"q": "氧化"})
    everything = await client.get(search)
    by_field = await client.get(search, params={"field": "new_materials"})
    by_band = await client.get(search, params={"budget": "up_to_5m"})
    by_money = await client.get(search, params={"sort": "budget_desc"})
    first_page = await client.get(search, params={"sort": "newest", "limit": 2})
    second_page = await client.get(
        search,
        params={"sort": "newest", "limit": 2, "cursor": first_page.json()["next_cursor"]},
    )
    other_query = await client.get(
        search, params={"q": "除冰", "cursor": first_page.json()["next_cursor"]}
    )
    misspelt = await client.get(search, params={"feild": "new_energy"})
    clock.set(datetime.fromisoformat(DUE) - timedelta(days=30))
    still_open = await client.get(search, params={"open": "true"})

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [hit["challenge"]["id"] for hit in response.json()["hits"]]

    assert unpublished.status_code == 201
    assert ids(by_word) == [wind]
    assert "<em>除冰</em>" in by_word.json()["hits"][0]["highlights"]["title"]
    assert ids(by_synonym) == [magnets]  # NdFeB = 钕铁硼
    assert ids(by_indicator) == [magnets]
    assert ids(by_prefix) == [alumina]
    assert everything.json()["total"] == 3
    assert everything.json()["facets"] == {
        "field_parent": {"new_energy": 1, "new_materials": 2},
        "status": {"published": 3},
        "budget_band": {"up_to_500k": 1, "up_to_1m": 1, "up_to_5m": 1},
    }
    assert sorted(ids(by_field)) == sorted([magnets, alumina])
    assert ids(by_band) == [magnets]
    assert ids(by_money) == [magnets, wind, alumina]
    assert ids(first_page) + ids(second_page) == [alumina, magnets, wind]
    assert second_page.json()["next_cursor"] is None
    assert other_query.json()["errors"][0]["code"] == "cursor_other_query"
    assert misspelt.json()["errors"][0]["field"] == "query.feild"
    assert sorted(ids(still_open)) == sorted([wind, magnets])  # alumina's deadline has passed

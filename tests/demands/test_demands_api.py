"""Demands (技术需求), their matches and saved searches, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from app.core.outbox import OutboxEvent
from search.backend import Filters
from search.matching import document_matches
from tests.factories import MarketFactory
from tests.market import publish_listing, relay_events
from tests.search.corpus import corpus


def _demand(organization_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "title": "寻求风电叶片防除冰技术",
        "description": "我公司在乌兰察布的风电场冬季叶片结冰严重，需要叶片除冰系统或防冰涂层技术。",
        "field_code": "new_energy.wind",
        "budget_min": {"amount": "200000", "currency": "CNY"},
        "budget_max": {"amount": "800000", "currency": "CNY"},
        "division_code": "150902",
        "deadline": "2027-03-31",
        **overrides,
    }


async def test_an_enterprise_posts_a_demand_and_gets_matches(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    enterprise = await factory.organization(OrganizationKind.enterprise)
    member = await factory.person(enterprise)
    wind = await publish_listing(
        client, factory, title="风电机组叶片除冰系统", abstract="基于电热膜的叶片防除冰系统。",
        keywords=["风电", "除冰"], field_code="new_energy.wind",
    )  # fmt: skip
    await publish_listing(
        client, factory, title="风电场功率预测方法", abstract="融合数值天气预报的功率预测。",
        keywords=["功率预测"], field_code="new_energy.wind",
    )  # fmt: skip
    await publish_listing(
        client,
        factory,
        title="低乳糖牛奶生产工艺",
        abstract="乳糖酶水解工艺。",
        field_code="modern_agriculture.dairy",
    )
    await relay_events(sessionmaker, clock)

    posted = await client.post(
        "/v1/demands", json=_demand(str(enterprise.id)), headers=member.headers
    )
    matches = await client.get(f"/v1/demands/{posted.json()['id']}/matches", headers=member.headers)

    assert posted.status_code == 201, posted.text
    assert posted.json()["budget_max"] == {"amount": "800000.00", "currency": "CNY"}
    ids = [hit["listing"]["id"] for hit in matches.json()]
    assert ids[0] == wind
    assert len(ids) == 2  # the dairy listing is in another field


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"budget_max": {"amount": "100", "currency": "CNY"}}, "body.budget_max", "range_inverted"),
        ({"field_code": "alchemy"}, "body.field_code", "field_unknown"),
        ({"deadline": "tomorrow"}, "body.deadline", "date_from_datetime_parsing"),
    ],
)
async def test_bad_demands_name_the_field(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    enterprise = await factory.organization(OrganizationKind.enterprise)
    member = await factory.person(enterprise)

    response = await client.post(
        "/v1/demands", json=_demand(str(enterprise.id), **overrides), headers=member.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_only_enterprises_post_demands(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university, MemberRole.owner)

    response = await client.post(
        "/v1/demands", json=_demand(str(university.id)), headers=member.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "demand_enterprise_only"


async def test_a_saved_search_hears_of_a_matching_listing(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    person = await factory.person(await factory.organization())
    saved = await client.post(
        "/v1/saved-searches",
        json={"name": "稀土永磁", "q": "钕铁硼", "filters": {"field": "new_materials"}},
        headers=person.headers,
    )
    listing_id = await publish_listing(client, factory, title="高矫顽力烧结钕铁硼磁体")
    await publish_listing(
        client, factory, title="风电机组叶片除冰系统", field_code="new_energy.wind"
    )

    await relay_events(sessionmaker, clock)

    async with sessionmaker() as session:
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == "saved_search.matched")
            )
        ).all()
    assert saved.status_code == 201
    assert [(e.payload["saved_search_id"], e.payload["listing_id"]) for e in events] == [
        (saved.json()["id"], listing_id)
    ]
    listed = await client.get("/v1/saved-searches", headers=person.headers)
    assert [s["name"] for s in listed.json()] == ["稀土永磁"]
    assert (
        await client.delete(f"/v1/saved-searches/{saved.json()['id']}", headers=person.headers)
    ).status_code == 204


@pytest.mark.parametrize(
    ("text", "filters", "titles"),
    [
        ("钕铁硼", Filters(), {"高矫顽力烧结钕铁硼磁体"}),
        ("ndfeb", Filters(), {"高矫顽力烧结钕铁硼磁体"}),
        ("钕铁", Filters(), {"高矫顽力烧结钕铁硼磁体"}),
        ("乳制品", Filters(), {"低乳糖牛奶生产工艺", "益生菌发酵乳"}),
        ("", Filters(field="new_energy.wind"), {"风电机组叶片除冰系统", "风电场功率预测方法"}),
        ("系统", Filters(region="1506"), {"矿用重型卡车无人驾驶系统", "土地退化遥感监测系统"}),
    ],
)
def test_one_document_matching_agrees_with_search(
    text: str, filters: Filters, titles: set[str]
) -> None:
    assert {d.title for d in corpus() if document_matches(d, text, filters)} == titles

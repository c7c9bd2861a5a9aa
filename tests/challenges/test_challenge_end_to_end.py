"""The open-challenge process end to end over HTTP (揭榜挂帅): an enterprise's demand becomes a
challenge, reviewers publish it, three organizations propose, two experts score, the owner
awards, the award survives its publicity, a deal opens with a drafted development contract, both
parties sign — and the statistics show the funnel."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.challenges.tasks import confirm_due_awards
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from tests.challenges.test_challenges_api import DUE, challenge
from tests.challenges.test_expert_review import sheet
from tests.challenges.test_proposals_api import proposal
from tests.demands.test_demands_api import _demand
from tests.factories import MarketFactory
from tests.market import relay_events


async def test_from_an_enterprise_need_to_a_signed_development_contract(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    enterprise = await factory.organization(OrganizationKind.enterprise, name="乌兰察布风电公司")
    owner = await factory.person(enterprise, MemberRole.owner)
    reviewer = await factory.staff(PlatformRole.reviewer)
    solvers = [
        await factory.person(await factory.organization(kind), MemberRole.owner)
        for kind in (
            OrganizationKind.university,
            OrganizationKind.research_institute,
            OrganizationKind.enterprise,
        )
    ]
    staff_expert = await factory.staff(PlatformRole.reviewer)
    outside_expert = await factory.person(
        await factory.organization(OrganizationKind.research_institute)
    )

    # The need, made a challenge, screened and published.
    demand = await client.post(
        "/v1/demands", json=_demand(str(enterprise.id)), headers=owner.headers
    )
    created = await client.post(
        "/v1/challenges", json=challenge(demand.json()["id"]), headers=owner.headers
    )
    url = f"/v1/challenges/{created.json()['id']}"
    published = await client.post(
        f"{url}/approve", json={"window_days": 10}, headers=reviewer.headers
    )
    assert published.json()["state"] == "published", published.text

    # Three proposals before the deadline; two experts named.
    proposal_ids = []
    for person, price in zip(solvers, ("800000", "700000", "900000"), strict=True):
        submitted = await client.post(
            f"{url}/proposals", json=proposal(price), headers=person.headers
        )
        assert submitted.status_code == 201, submitted.text
        proposal_ids.append(submitted.json()["id"])
    for expert in (staff_expert, outside_expert):
        named = await client.post(
            f"{url}/experts", json={"user_id": str(expert.user_id)}, headers=reviewer.headers
        )
        assert named.status_code == 201, named.text

    # After the deadline both experts score all three; the ranking follows.
    clock.set(datetime.fromisoformat(DUE) + timedelta(hours=2))
    scores = {
        staff_expert.user_id: (sheet(36, 22, 17, 12), sheet(33, 20, 16, 13), sheet(30, 18, 14, 10)),
        outside_expert.user_id: (sheet(37, 21, 18, 12), sheet(32, 21, 15, 12), sheet(31, 17, 15, 11)),
    }  # fmt: skip
    for expert in (staff_expert, outside_expert):
        for proposal_id, scored in zip(proposal_ids, scores[expert.user_id], strict=True):
            response = await client.post(
                f"/v1/proposals/{proposal_id}/scores",
                json={"scores": scored, "no_conflict": True},
                headers=expert.headers,
            )
            assert response.status_code == 201, response.text
    ranking = await client.get(f"{url}/ranking", headers=owner.headers)
    assert [r["proposal_id"] for r in ranking.json()] == proposal_ids
    assert [r["mean"] for r in ranking.json()] == ["87.50", "81.00", "73.00"]

    # The owner awards the first; the award is public through its publicity period.
    awarded = await client.post(
        f"{url}/award", json={"proposal_id": proposal_ids[0]}, headers=owner.headers
    )
    assert awarded.status_code == 201, awarded.text
    await relay_events(sessionmaker, clock)
    seen_by_the_market = await client.get(f"{url}/award", headers=solvers[2].headers)
    assert seen_by_the_market.json()["state"] == "publicity"

    # The period ends with no objection: the worker lets the award stand and opens the deal.
    clock.set(datetime.fromisoformat(awarded.json()["publicity_ends_at"]))
    assert await confirm_due_awards(sessionmaker, clock.now()) == 1
    deal_id = (await client.get(f"{url}/award", headers=owner.headers)).json()["deal_id"]
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=solvers[0].headers)
    assert contract.json()["versions"][0]["contract_type"] == "development"

    # Both parties sign the drafted contract: from here the usual contract flows apply.
    for party in (solvers[0], owner):
        signed = await client.post(
            f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=party.headers
        )
        assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "signed"

    # The statistics' funnel: collected, published and proposed in November, awarded and
    # contracted in April (Beijing months).
    period = "?period_from=2026-11&period_to=2027-04"
    staff_view = await client.get(f"/v1/stats/indicators{period}", headers=reviewer.headers)
    public_view = await client.get(f"/v1/stats/indicators{period}")
    funnel = [
        (
            cell["field"],
            cell["month"],
            cell["needs_collected"],
            cell["published"],
            cell["proposals"],
            cell["awarded"],
            cell["contracts"],
            cell["amount"],
        )
        for cell in staff_view.json()["challenge_funnel"]
    ]
    assert funnel == [
        ("new_energy", "2026-11", 1, 1, 3, 0, 0, {"amount": "0.00", "currency": "CNY"}),
        ("new_energy", "2027-04", 0, 0, 0, 1, 1, {"amount": "800000.00", "currency": "CNY"}),
    ]
    assert public_view.json()["challenge_funnel"][1]["amount"] is None  # one contract: withheld

"""Award and publicity (揭榜结果与公示): the owner picks a ranked proposal once scoring is
complete, or declares none suitable with a reason; the award is public for five working days,
open to objections that staff decide; then a deal opens with a draft development contract
prefilled from the winning proposal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import OrganizationKind
from app.challenges.tasks import confirm_due_awards
from app.core.auth import PlatformRole
from app.core.clock import FrozenClock
from app.core.working_days import working_period_end
from tests.challenges.test_challenges_api import DUE
from tests.challenges.test_expert_review import sheet
from tests.challenges.test_proposals_api import proposal, published, solver
from tests.factories import MarketFactory, Person


@dataclass
class Ranked:
    owner: Person
    url: str
    solvers: list[Person]
    proposals: list[str]
    """In ranking order: the first solver's proposal ranks first."""
    organizations: list[str]
    """The solvers' organizations, then the owner's."""
    expert: Person
    reviewer: Person


async def ranked_challenge(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock, *, score_all: bool = True
) -> Ranked:
    """A published challenge with three proposals (the first best), its deadline passed, and
    one staff expert's scores (all of them, or all but the last proposal's)."""
    owner, challenge_id = await published(client, factory)
    url = f"/v1/challenges/{challenge_id}"
    reviewer = await factory.staff(PlatformRole.reviewer)
    solvers = [
        await solver(factory, OrganizationKind.university),
        await solver(factory, OrganizationKind.research_institute),
        await solver(factory, OrganizationKind.enterprise),
    ]
    ids, organizations = [], []
    for person, price in zip(solvers, ("800000", "700000", "900000"), strict=True):
        submitted = await client.post(
            f"{url}/proposals", json=proposal(price), headers=person.headers
        )
        assert submitted.status_code == 201, submitted.text
        ids.append(submitted.json()["id"])
        organizations.append(submitted.json()["organization_id"])
    organizations.append((await client.get(url, headers=owner.headers)).json()["organization_id"])
    expert = await factory.staff(PlatformRole.reviewer)
    named = await client.post(
        f"{url}/experts", json={"user_id": str(expert.user_id)}, headers=reviewer.headers
    )
    assert named.status_code == 201, named.text
    clock.set(datetime.fromisoformat(DUE) + timedelta(hours=2))
    scores = (sheet(38, 23, 18, 13), sheet(34, 20, 16, 12), sheet(30, 15, 14, 11))
    for proposal_id, scored in list(zip(ids, scores, strict=True))[: 3 if score_all else 2]:
        response = await client.post(
            f"/v1/proposals/{proposal_id}/scores",
            json={"scores": scored, "no_conflict": True},
            headers=expert.headers,
        )
        assert response.status_code == 201, response.text
    return Ranked(owner, url, solvers, ids, organizations, expert, reviewer)


async def test_an_award_stands_after_its_publicity_and_opens_a_deal_with_a_draft_contract(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    market = await ranked_challenge(client, factory, clock, score_all=False)
    first, second, third = market.solvers
    award = f"{market.url}/award"

    early = await client.post(
        award, json={"proposal_id": market.proposals[1]}, headers=market.owner.headers
    )
    await client.post(
        f"/v1/proposals/{market.proposals[2]}/scores",
        json={"scores": sheet(30, 15, 14, 11), "no_conflict": True},
        headers=market.expert.headers,
    )
    by_solver = await client.post(
        award, json={"proposal_id": market.proposals[0]}, headers=first.headers
    )
    unknown = await client.post(
        award, json={"proposal_id": str(uuid.uuid4())}, headers=market.owner.headers
    )
    # The owner may pass over the first ranked: the second is cheaper.
    awarded = await client.post(
        award,
        json={"proposal_id": market.proposals[1], "reason": "报价更低，指标响应相当"},
        headers=market.owner.headers,
    )
    again = await client.post(
        award, json={"proposal_id": market.proposals[0]}, headers=market.owner.headers
    )
    public = await client.get(award, headers=third.headers)
    own_objection = await client.post(
        f"{market.url}/objections",
        json={"grounds": "自己对自己有异议"},
        headers=market.owner.headers,
    )
    ends = datetime.fromisoformat(awarded.json()["publicity_ends_at"])
    clock.set(ends - timedelta(seconds=1))
    before_the_end = await confirm_due_awards(sessionmaker, clock.now())
    clock.set(ends)
    late_objection = await client.post(
        f"{market.url}/objections", json={"grounds": "公示期后才提出的异议"}, headers=third.headers
    )
    stood = await confirm_due_awards(sessionmaker, clock.now())
    twice = await confirm_due_awards(sessionmaker, clock.now())
    by_owner = await client.get(award, headers=market.owner.headers)
    by_stranger = await client.get(award, headers=third.headers)
    challenge = await client.get(market.url, headers=third.headers)

    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "body.proposal_id"
    assert early.json()["errors"][0]["code"] == "scoring_incomplete"
    assert by_solver.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "not_ranked"
    assert awarded.status_code == 201, awarded.text
    assert awarded.json()["state"] == "publicity"
    assert awarded.json()["winner_organization_id"] == market.organizations[1]
    assert awarded.json()["publicity_working_days"] == 5
    assert ends == working_period_end(datetime.fromisoformat(DUE) + timedelta(hours=2), 5)
    assert again.status_code == 409
    assert public.status_code == 200, public.text
    assert public.json()["winner_organization_id"] == market.organizations[1]
    assert public.json()["price"] == {"amount": "700000.00", "currency": "CNY"}
    assert own_objection.json()["errors"][0]["code"] == "own_challenge"
    assert before_the_end == 0
    assert late_objection.status_code == 422
    assert late_objection.json()["errors"][0]["code"] == "publicity_over"
    assert late_objection.json()["errors"][0]["field"] == "path.challenge_id"
    assert (stood, twice) == (1, 0)
    assert by_owner.json()["state"] == "confirmed"
    assert by_stranger.json()["deal_id"] is None  # the deal is the parties' alone
    assert challenge.json()["state"] == "concluded"

    deal_id = by_owner.json()["deal_id"]
    deal = await client.get(f"/v1/deals/{deal_id}", headers=second.headers)
    contract = await client.get(f"/v1/deals/{deal_id}/contract", headers=market.owner.headers)
    hidden = await client.get(f"/v1/deals/{deal_id}", headers=first.headers)
    assert deal.json()["source"] == "challenge"
    assert deal.json()["seller_organization_id"] == market.organizations[1]
    assert deal.json()["buyer_organization_id"] == market.organizations[3]
    assert deal.json()["price"] == {"amount": "700000.00", "currency": "CNY"}
    assert hidden.status_code == 404
    draft = contract.json()["versions"][0]
    assert contract.json()["state"] == "draft"
    assert (draft["contract_type"], draft["subtype"]) == ("development", "commissioned_development")
    assert (
        draft["total"] == draft["transaction_amount"] == {"amount": "700000.00", "currency": "CNY"}
    )
    assert [(m["due_on"], m["amount"]["amount"]) for m in draft["milestones"]] == [
        ("2027-09-30", "350000.00"),
        ("2028-03-31", "350000.00"),
    ]
    assert draft["ends_on"] == "2028-03-31"
    for party in (second, market.owner):
        signed = await client.post(
            f"/v1/deals/{deal_id}/sign", json={"version": 1}, headers=party.headers
        )
        assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "signed"


async def test_objections_hold_the_award_and_an_upheld_one_revokes_it(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    clock: FrozenClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    market = await ranked_challenge(client, factory, clock)
    first, second, third = market.solvers
    objections = f"{market.url}/objections"
    awarded = await client.post(
        f"{market.url}/award",
        json={"proposal_id": market.proposals[0]},
        headers=market.owner.headers,
    )
    by_second = await client.post(
        objections, json={"grounds": "中选方案引用的专利已失效"}, headers=second.headers
    )
    second_again = await client.post(
        objections, json={"grounds": "再次提出同一异议"}, headers=second.headers
    )
    by_third = await client.post(
        objections, json={"grounds": "中选单位团队成员与发榜方存在关联"}, headers=third.headers
    )
    owner_sees = await client.get(objections, headers=market.owner.headers)
    second_sees = await client.get(objections, headers=second.headers)
    first_sees = await client.get(objections, headers=first.headers)
    clock.set(datetime.fromisoformat(awarded.json()["publicity_ends_at"]))
    held = await confirm_due_awards(sessionmaker, clock.now())
    resolve = f"{objections}/{{}}/resolve"
    by_owner = await client.post(
        resolve.format(by_second.json()["id"]),
        json={"upheld": False, "resolution": "自己裁决"},
        headers=market.owner.headers,
    )
    dismissed = await client.post(
        resolve.format(by_second.json()["id"]),
        json={"upheld": False, "resolution": "经核查，专利有效，异议不成立"},
        headers=market.reviewer.headers,
    )
    still_held = await client.get(f"{market.url}/award", headers=market.owner.headers)
    upheld = await client.post(
        resolve.format(by_third.json()["id"]),
        json={"upheld": True, "resolution": "经核查，存在关联关系，异议成立"},
        headers=market.reviewer.headers,
    )
    decided_twice = await client.post(
        resolve.format(by_third.json()["id"]),
        json={"upheld": False, "resolution": "再次裁决"},
        headers=market.reviewer.headers,
    )
    revoked = await client.get(f"{market.url}/award", headers=market.owner.headers)
    reopened = await client.get(market.url, headers=market.owner.headers)
    without_reason = await client.post(
        f"{market.url}/award", json={"proposal_id": None}, headers=market.owner.headers
    )
    none_suitable = await client.post(
        f"{market.url}/award",
        json={"proposal_id": None, "reason": "剩余方案均未达到除冰时间指标"},
        headers=market.owner.headers,
    )
    closed = await client.get(market.url, headers=third.headers)

    assert by_second.status_code == 201, by_second.text
    assert second_again.status_code == 409
    assert by_third.status_code == 201
    assert len(owner_sees.json()) == 2
    assert [o["id"] for o in second_sees.json()] == [by_second.json()["id"]]
    assert first_sees.json() == []
    assert held == 0  # objections open: the award waits
    assert by_owner.status_code == 403
    assert dismissed.json()["state"] == "dismissed"
    assert still_held.json()["state"] == "publicity"
    assert upheld.json()["state"] == "upheld"
    assert decided_twice.status_code == 409
    assert revoked.status_code == 404
    assert reopened.json()["state"] == "published"
    assert without_reason.json()["errors"][0]["field"] == "body.reason"
    assert none_suitable.status_code == 201, none_suitable.text
    assert none_suitable.json()["state"] == "confirmed"
    assert none_suitable.json()["winner_organization_id"] is None
    assert closed.json()["state"] == "unawarded"


async def test_the_last_objection_dismissed_after_the_period_lets_the_award_stand(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    market = await ranked_challenge(client, factory, clock)
    awarded = await client.post(
        f"{market.url}/award",
        json={"proposal_id": market.proposals[0]},
        headers=market.owner.headers,
    )
    objection = await client.post(
        f"{market.url}/objections",
        json={"grounds": "报价明显低于成本"},
        headers=market.solvers[1].headers,
    )
    clock.set(datetime.fromisoformat(awarded.json()["publicity_ends_at"]) + timedelta(days=3))
    await client.post(
        f"{market.url}/objections/{objection.json()['id']}/resolve",
        json={"upheld": False, "resolution": "报价有成本测算支撑，异议不成立"},
        headers=market.reviewer.headers,
    )
    stood = await client.get(f"{market.url}/award", headers=market.solvers[0].headers)

    assert stood.json()["state"] == "confirmed"
    assert stood.json()["deal_id"] is not None

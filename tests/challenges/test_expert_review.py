"""Expert review of proposals (专家评审): reviewers name experts; each expert scores each
proposal once after the deadline on the score sheet (data), declaring no conflict of interest
and never their own organization's; the ranking waits for every score, then orders by the mean
of the totals, ties to the lower price."""

from __future__ import annotations

from datetime import datetime

import httpx

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from tests.challenges.test_challenges_api import DUE
from tests.challenges.test_proposals_api import proposal, published
from tests.factories import MarketFactory, Person


def sheet(technical: int, basis: int, impact: int, price: int) -> dict[str, str]:
    return {
        "technical_indicators": str(technical),
        "research_basis": str(basis),
        "industrial_impact": str(impact),
        "price": str(price),
    }


async def test_experts_score_blind_and_the_ranking_breaks_ties_by_price(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    owner, challenge_id = await published(client, factory)
    reviewer = await factory.staff(PlatformRole.reviewer)
    university = await factory.organization(OrganizationKind.university)
    a = await factory.person(university, MemberRole.owner)
    b = await factory.person(
        await factory.organization(OrganizationKind.research_institute), MemberRole.owner
    )
    c = await factory.person(
        await factory.organization(OrganizationKind.enterprise), MemberRole.owner
    )
    url = f"/v1/challenges/{challenge_id}"
    ids = {}
    for person, price in ((a, "800000"), (b, "700000"), (c, "900000")):
        submitted = await client.post(
            f"{url}/proposals", json=proposal(price), headers=person.headers
        )
        ids[person.user_id] = submitted.json()["id"]
    outside_expert = await factory.person(university)  # a colleague of A's: may not score A
    staff_expert = await factory.staff(PlatformRole.reviewer)
    for expert in (staff_expert, outside_expert):
        named = await client.post(
            f"{url}/experts", json={"user_id": str(expert.user_id)}, headers=reviewer.headers
        )
        assert named.status_code == 201, named.text
    by_owner = await client.post(
        f"{url}/experts", json={"user_id": str(owner.user_id)}, headers=owner.headers
    )

    async def score(
        submitter: Person, expert: Person, scores: dict[str, str], *, no_conflict: bool = True
    ) -> httpx.Response:
        return await client.post(
            f"/v1/proposals/{ids[submitter.user_id]}/scores",
            json={"scores": scores, "no_conflict": no_conflict},
            headers=expert.headers,
        )

    early = await score(a, staff_expert, sheet(33, 20, 16, 12))
    clock.set(datetime.fromisoformat(DUE))
    waiting = await client.get(f"{url}/ranking", headers=owner.headers)
    await score(a, staff_expert, sheet(33, 20, 16, 12))
    await score(b, staff_expert, sheet(34, 20, 16, 12))
    await score(c, staff_expert, sheet(30, 15, 14, 11))
    twice = await score(c, staff_expert, sheet(30, 15, 14, 11))
    own = await score(a, outside_expert, sheet(40, 25, 20, 15))
    undeclared = await score(b, outside_expert, sheet(32, 20, 16, 12), no_conflict=False)
    over = await score(b, outside_expert, sheet(41, 20, 16, 12))
    still_waiting = await client.get(f"{url}/ranking", headers=staff_expert.headers)
    await score(b, outside_expert, sheet(32, 20, 16, 12))
    await score(c, outside_expert, sheet(36, 23, 18, 13))
    ranked = await client.get(f"{url}/ranking", headers=owner.headers)
    by_competitor = await client.get(f"{url}/ranking", headers=c.headers)
    sheet_shown = await client.get("/v1/proposal-score-sheet", headers=c.headers)

    assert by_owner.status_code == 403
    assert early.status_code == 422
    assert early.json()["errors"][0]["code"] == "proposals_still_open"
    assert waiting.status_code == 409
    assert twice.status_code == 409
    assert own.json()["errors"][0]["code"] == "conflict_of_interest"
    assert undeclared.json()["errors"][0]["field"] == "body.no_conflict"
    assert over.json()["errors"][0]["field"] == "body.scores.technical_indicators"
    assert still_waiting.status_code == 409  # the outside expert still owes B and C
    assert ranked.status_code == 200, ranked.text
    # A: 81 (its colleague does not score it); B: (82 + 80) / 2 = 81, cheaper than A; C: 80.
    assert [(r["proposal_id"], r["mean"]) for r in ranked.json()] == [
        (ids[b.user_id], "81.00"),
        (ids[a.user_id], "81.00"),
        (ids[c.user_id], "80.00"),
    ]
    assert [r["rank"] for r in ranked.json()] == [1, 2, 3]
    assert by_competitor.status_code == 404
    assert [c["weight"] for c in sheet_shown.json()["criteria"]] == ["40", "25", "20", "15"]

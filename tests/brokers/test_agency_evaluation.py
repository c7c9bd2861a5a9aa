"""A transfer agency's yearly evaluation (年度绩效评价): reviewers score a finished year on the
score sheet (data: 基础条件 10, 服务绩效 30, 服务能力 30, 规范管理 20, 社会信誉 10, a pass mark),
with the service indicators kept as they saw them; the agency sees its own, staff all."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from app.accounts.models import OrganizationKind
from app.brokers.score_sheet import score_sheet
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import FrozenClock
from app.core.errors import ValidationFailed
from tests.conftest import later
from tests.deals.test_deals_api import off_platform_deal, parties, sign_and_register, terms
from tests.factories import MarketFactory

PASSING = {
    "basic_conditions": "8",
    "service_performance": "24.5",
    "service_capacity": "22",
    "management": "16",
    "reputation": "9",
}


@pytest.mark.parametrize(
    ("scores", "total", "passed"),
    [
        (PASSING, "79.5", True),
        ({**PASSING, "service_performance": "5", "service_capacity": "2"}, "40", False),
        (dict.fromkeys(PASSING, "0"), "0", False),
        (
            {
                "basic_conditions": "10",
                "service_performance": "30",
                "service_capacity": "30",
                "management": "20",
                "reputation": "10",
            },
            "100",
            True,
        ),
    ],
)
def test_the_total_is_the_sum_and_passes_at_the_mark(
    scores: dict[str, str], total: str, passed: bool
) -> None:
    sheet = score_sheet()
    computed = sheet.total({code: Decimal(v) for code, v in scores.items()})
    assert computed == Decimal(total)
    assert sheet.passes(computed) is passed
    assert sheet.passes(sheet.pass_mark)
    assert not sheet.passes(sheet.pass_mark - Decimal("0.01"))


@pytest.mark.parametrize(
    ("scores", "field", "code"),
    [
        ({**PASSING, "reputation": "10.01"}, "body.scores.reputation", "score_outside_weight"),
        ({**PASSING, "management": "-1"}, "body.scores.management", "score_outside_weight"),
        (
            {k: v for k, v in PASSING.items() if k != "management"},
            "body.scores.management",
            "missing",
        ),
        ({**PASSING, "charisma": "1"}, "body.scores.charisma", "not_on_sheet"),
    ],
)
def test_a_score_outside_the_sheet_names_the_criterion(
    scores: dict[str, str], field: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        score_sheet().total({c: Decimal(v) for c, v in scores.items()})
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (field, code)


async def test_reviewers_evaluate_a_finished_year_and_the_agency_sees_its_own(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    agency = await factory.organization(OrganizationKind.transfer_agency, division_code="150102")
    agency_owner = await factory.person(agency, MemberRole.owner)
    broker = await factory.broker(await factory.person(agency), agency=agency)
    registrar = await factory.staff(PlatformRole.registrar)
    reviewer = await factory.staff(PlatformRole.reviewer)
    outsider = await factory.person(await factory.organization(), MemberRole.owner)
    p = await parties(factory)
    deal = await off_platform_deal(factory, p)
    await client.put(
        f"/v1/deals/{deal}/brokers",
        json={"broker_ids": [str(broker.id)]},
        headers=p.seller_owner.headers,
    )
    await sign_and_register(client, deal, p, registrar, terms("300000"))
    url = f"/v1/organizations/{agency.id}/agency-evaluations/2026"

    too_early = await client.put(url, json={"scores": PASSING}, headers=reviewer.headers)
    later(clock, days=62)  # into January 2027
    before = await client.get(url, headers=agency_owner.headers)
    by_agency = await client.put(url, json={"scores": PASSING}, headers=agency_owner.headers)
    over = await client.put(
        url, json={"scores": {**PASSING, "reputation": "11"}}, headers=reviewer.headers
    )
    recorded = await client.put(
        url, json={"scores": PASSING, "note": "材料齐全"}, headers=reviewer.headers
    )
    mine = await client.get(url, headers=agency_owner.headers)
    by_outsider = await client.get(url, headers=outsider.headers)
    sheet = await client.get("/v1/agency-score-sheet", headers=agency_owner.headers)

    assert too_early.status_code == 422
    assert too_early.json()["errors"][0] == {
        "field": "path.year",
        "code": "year_not_over",
        "message": too_early.json()["errors"][0]["message"],
    }
    assert before.status_code == 404
    assert by_agency.status_code == 403
    assert over.status_code == 422
    assert over.json()["errors"][0]["field"] == "body.scores.reputation"
    assert over.json()["errors"][0]["code"] == "score_outside_weight"
    assert "10" in over.json()["errors"][0]["message"]
    assert recorded.status_code == 200, recorded.text
    assert mine.json() == recorded.json()
    evaluation = mine.json()
    assert (Decimal(evaluation["total"]), evaluation["passed"]) == (Decimal("79.5"), True)
    assert evaluation["indicators"]["contracts"] == 1
    assert evaluation["indicators"]["amount"] == {"amount": "300000.00", "currency": "CNY"}
    assert by_outsider.status_code == 404
    assert [c["weight"] for c in sheet.json()["criteria"]] == ["10", "30", "30", "20", "10"]
    assert sheet.json()["example"] is True

    failing = {**PASSING, "service_performance": "5", "service_capacity": "2"}
    again = await client.put(url, json={"scores": failing}, headers=reviewer.headers)
    audit = await client.get(
        "/v1/audit-events",
        params={"action": "agency.evaluated"},
        headers=(await factory.staff(PlatformRole.admin)).headers,
    )

    assert (Decimal(again.json()["total"]), again.json()["passed"]) == (Decimal("40"), False)
    assert again.json()["indicators"] == evaluation["indicators"]
    assert [e["before"] and e["before"]["total"] for e in audit.json()["items"]] in (
        ["79.50", None],
        [None, "79.50"],
    )

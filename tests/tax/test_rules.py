"""Tax rule sets and calculators: every threshold, the 2023 rate change, exclusions, VAT rates,
and properties (exempt + taxable = total; reductions never negative)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import Money
from app.tax.rules import (
    TransferContract,
    VatReceipt,
    eit_exclusion,
    eit_transfer_income,
    rd_super_deduction,
    researcher_reward_relief,
    rule_set,
    rule_sets,
    vat_exemption,
)

ON = date(2026, 6, 30)
EIT = rule_set("eit_transfer_income", ON)
VAT = rule_set("vat_exemption", ON)
RD = rule_set("rd_super_deduction", ON)
IIT = rule_set("researcher_reward_relief", ON)


def contract(revenue: str, *, costs: str = "0", **overrides: object) -> TransferContract:
    values: dict[str, object] = {
        "contract_id": "c1",
        "transfer": "assignment",
        "exclusive": True,
        "licence_years": None,
        "result_kind": "invention_patent",
        "registered": True,
        "related_party_100": False,
        "signed_on": date(2026, 3, 1),
        "revenue_fen": Money.yuan(revenue).fen,
        "costs_fen": Money.yuan(costs).fen,
        "taxes_fen": 0,
        **overrides,
    }
    return TransferContract(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("income", "exempt", "taxable"),
    [
        ("4999999.99", "4999999.99", "0.00"),
        ("5000000.00", "5000000.00", "0.00"),
        ("5000000.01", "5000000.00", "0.01"),  # half of 0.01 rounds half-up to 0.01
        ("5000000.02", "5000000.00", "0.01"),
        ("5000000.03", "5000000.00", "0.02"),
        ("7000000.00", "5000000.00", "1000000.00"),
        ("-100000.00", "0.00", "0.00"),  # a loss: nothing exempt, nothing taxable here
    ],
)
def test_technology_transfer_income_at_every_threshold(
    income: str, exempt: str, taxable: str
) -> None:
    result = eit_transfer_income(EIT, [contract(income)])

    assert result.exempt_fen == Money.yuan(exempt).fen
    assert result.taxable_fen == Money.yuan(taxable).fen
    assert result.reduced_fen == max(result.income_fen, 0) - result.taxable_fen


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"transfer": "licence", "licence_years": 4}, "licence_term"),
        ({"transfer": "licence", "licence_years": 5}, None),
        (
            {
                "transfer": "licence",
                "licence_years": 5,
                "exclusive": False,
                "signed_on": date(2015, 9, 30),
            },
            "non_exclusive_before_2015_10",
        ),
        (
            {
                "transfer": "licence",
                "licence_years": 5,
                "exclusive": False,
                "signed_on": date(2015, 10, 1),
            },
            None,
        ),
        ({"related_party_100": True}, "related_party"),
        ({"registered": False}, "not_registered"),
        ({"result_kind": "technical_secret"}, "result_kind"),
        ({"result_kind": "software_copyright"}, None),
    ],
)
def test_what_counts_as_technology_transfer(
    overrides: dict[str, object], reason: str | None
) -> None:
    assert eit_exclusion(EIT, contract("100", **overrides)) == reason


def test_excluded_contracts_are_listed_with_their_reason_and_the_rest_add_up() -> None:
    contracts = [
        contract("3000000", costs="200000", contract_id="a"),
        contract("4000000", contract_id="b", related_party_100=True),
        contract("2500000", costs="100000", contract_id="c", signed_on=date(2026, 12, 20)),
    ]
    result = eit_transfer_income(EIT, contracts)

    assert result.included == ["a", "c"]
    assert [(e.contract_id, e.reason) for e in result.excluded] == [("b", "related_party")]
    assert result.income_fen == Money.yuan("5200000").fen
    assert result.taxable_fen == Money.yuan("100000").fen


@pytest.mark.parametrize(
    ("kind", "rate", "forgone"),
    [("general", "0.06", "6000.00"), ("small_scale", "0.03", "3000.00")],
)
def test_vat_forgone_at_the_sellers_rate(kind: str, rate: str, forgone: str) -> None:
    result = vat_exemption(
        VAT,
        taxpayer_kind=kind,  # type: ignore[arg-type]
        receipts=[
            VatReceipt("a", "transfer", True, Money.yuan("100000").fen),
            VatReceipt("b", "consulting", True, Money.yuan("5000").fen),
            VatReceipt("c", "development", False, Money.yuan("7000").fen),
        ],
    )
    assert result.rate == Decimal(rate)
    assert result.exempt_sales_fen == Money.yuan("100000").fen
    assert result.vat_forgone_fen == Money.yuan(forgone).fen
    assert [(line.receipt_id, line.reason) for line in result.lines] == [
        ("a", None),
        ("b", "contract_type"),
        ("c", "not_registered"),
    ]


@pytest.mark.parametrize(
    ("paid_on", "manufacturing", "rate", "deduction"),
    [
        (date(2020, 12, 31), True, "0.75", "60000.00"),
        (date(2021, 1, 1), True, "1.00", "80000.00"),  # manufacturing from 2021
        (date(2022, 12, 31), False, "0.75", "60000.00"),
        (date(2023, 1, 1), False, "1.00", "80000.00"),  # everyone from 2023
    ],
)
def test_the_super_deduction_across_the_2023_rate_change(
    paid_on: date, manufacturing: bool, rate: str, deduction: str
) -> None:
    result = rd_super_deduction(
        rule_set("rd_super_deduction", paid_on),
        expense_fen=Money.yuan("100000").fen,
        paid_on=paid_on,
        industry="manufacturing" if manufacturing else "software",
        manufacturing=manufacturing,
    )
    assert result is not None
    assert result.counted_fen == Money.yuan("80000").fen  # 80 % of commissioned R&D
    assert (result.rate, result.deduction_fen) == (Decimal(rate), Money.yuan(deduction).fen)


def test_excluded_industries_get_no_super_deduction() -> None:
    assert (
        rd_super_deduction(
            RD, expense_fen=100, paid_on=ON, industry="real_estate", manufacturing=False
        )
        is None
    )


@pytest.mark.parametrize(
    ("published", "paid_on", "taxable"),
    [
        (True, date(2029, 3, 1), "5000.01"),
        (True, date(2029, 3, 2), "10000.01"),
        (False, date(2026, 4, 1), "10000.01"),
    ],
)
def test_researchers_rewards_count_at_half_when_the_conditions_hold(
    published: bool, paid_on: date, taxable: str
) -> None:
    result = researcher_reward_relief(
        IIT,
        reward_fen=Money.yuan("10000.01").fen,
        contract_registered=True,
        reward_published=published,
        income_received_on=date(2026, 3, 1),
        reward_paid_on=paid_on,
    )
    assert result.taxable_fen == Money.yuan(taxable).fen
    assert result.taxable_fen + result.relieved_fen == result.reward_fen


def test_every_rule_set_cites_its_law() -> None:
    for rules in rule_sets():
        assert rules.citations
        assert all("号" in c or "法" in c or "条例" in c for c in rules.citations)


@given(
    st.lists(
        st.tuples(st.integers(-(10**10), 10**11), st.integers(0, 10**10)), min_size=1, max_size=6
    )
)
def test_eit_reductions_are_never_negative_and_parts_add_up(amounts: list[tuple[int, int]]) -> None:
    contracts = [
        contract("0", contract_id=str(n), revenue_fen=revenue, costs_fen=costs)
        for n, (revenue, costs) in enumerate(amounts)
    ]
    result = eit_transfer_income(EIT, contracts)
    assert result.reduced_fen >= 0
    assert result.exempt_fen >= 0
    assert result.taxable_fen >= 0
    assert result.exempt_fen + result.halved_fen == max(result.income_fen, 0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["transfer", "licence", "development", "consulting", "service"]),
            st.booleans(),
            st.integers(0, 10**11),
        ),
        max_size=8,
    ),
    st.sampled_from(["general", "small_scale"]),
)
def test_vat_exempt_plus_taxable_is_the_total(
    receipts: list[tuple[str, bool, int]], kind: str
) -> None:
    result = vat_exemption(
        VAT,
        taxpayer_kind=kind,
        receipts=[VatReceipt(str(n), t, r, fen) for n, (t, r, fen) in enumerate(receipts)],
    )
    assert result.exempt_sales_fen + result.taxable_sales_fen == sum(fen for _, _, fen in receipts)
    assert result.vat_forgone_fen >= 0

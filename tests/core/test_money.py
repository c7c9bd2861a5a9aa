"""Money rules as pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.core.money import MAX_FEN, Money, NonNegativeMoney


class Price(BaseModel):
    price: NonNegativeMoney


class Adjustment(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        ("12345.67", 1234567),
        ("0", 0),
        ("0.1", 10),
        ("100", 10000),
        ("-0", 0),
    ],
)
def test_amounts_parse_to_fen(amount: object, fen: int) -> None:
    assert Price.model_validate({"price": {"amount": amount, "currency": "CNY"}}).price.fen == fen


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("12.345", "money_format"),
        # One form: a JSON number (perhaps a float already), an exponent or padding is refused.
        (100, "money_format"),
        (12.5, "money_format"),
        (1.005, "money_format"),
        ("1e3", "money_format"),
        (" 7.00 ", "money_format"),
        ("7.", "money_format"),
        ("abc", "money_format"),
        ("NaN", "money_format"),
        ("Infinity", "money_format"),
        (True, "money_format"),
        (None, "money_format"),
        ("-0.01", "money_negative"),
        (str(MAX_FEN), "money_too_large"),
    ],
)
def test_bad_amounts_are_refused_with_a_code(amount: object, code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Price.model_validate({"price": {"amount": amount, "currency": "CNY"}})
    assert raised.value.errors()[0]["type"] == code


def test_currency_other_than_cny_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        Price.model_validate({"price": {"amount": "1", "currency": "USD"}})
    assert raised.value.errors()[0]["type"] == "money_currency"


def test_signed_money_may_be_negative() -> None:
    assert Adjustment.model_validate({"amount": {"amount": "-5.10"}}).amount == Money(-510)


def test_money_serializes_as_decimal_string() -> None:
    assert Price(price=Money(1234567)).model_dump(mode="json") == {
        "price": {"amount": "12345.67", "currency": "CNY"}
    }


@pytest.mark.parametrize(
    ("fen", "rate", "expected"),
    [(100, Decimal("0.125"), 13), (100, Decimal("0.124"), 12), (-100, Decimal("0.125"), -13)],
)
def test_times_rounds_half_up_once(fen: int, rate: Decimal, expected: int) -> None:
    assert Money(fen).times(rate).fen == expected


def test_float_rates_are_refused() -> None:
    with pytest.raises(TypeError):
        Money(100).times(0.5)  # type: ignore[arg-type]


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_adding_and_subtracting_never_creates_or_loses_money(a: int, b: int) -> None:
    assert (Money(a) + Money(b)) - Money(b) == Money(a)


@given(st.integers(-(10**13), 10**13))
def test_api_form_round_trips(fen: int) -> None:
    shown = Money(fen).to_api()
    assert Adjustment.model_validate({"amount": shown}).amount == Money(fen)


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_the_amount_text_is_the_decimal_amount(fen: int) -> None:
    assert Money(fen).amount_text == str(Money(fen).amount)


@given(st.from_regex(r"-?[0-9]{1,15}(\.[0-9]{1,2})?", fullmatch=True))
def test_an_amount_reads_as_its_decimal_value(amount: str) -> None:
    fen = int(Decimal(amount) * 100)
    if abs(fen) > MAX_FEN:
        with pytest.raises(ValidationError) as raised:
            Adjustment.model_validate({"amount": {"amount": amount}})
        assert raised.value.errors()[0]["type"] == "money_too_large"
    else:
        assert Adjustment.model_validate({"amount": {"amount": amount}}).amount == Money(fen)

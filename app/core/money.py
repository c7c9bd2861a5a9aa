"""Money: an integer number of fen and a currency; a decimal string in both directions.

No float ever holds an amount. The API takes an amount the way it writes one — a string of
digits with at most two decimals ("12345.67"), as the schema's pattern says — and refuses a
JSON number (which clients may already have rounded through a float), an exponent or padding:
one form for every money field, checked the same in the document and in the code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from sqlalchemy import ColumnElement, Numeric, String, cast

from app.core.errors import FieldError, RequestInvalid

Currency = Literal["CNY"]
FEN_PER_YUAN = 100
# BIGINT holds 2**63-1 fen; we stop well before, at one trillion yuan.
MAX_FEN = 10**14


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of money in fen (分) and its currency."""

    fen: int
    currency: Currency = "CNY"

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise TypeError("Money.fen must be an int")

    @classmethod
    def yuan(cls, amount: str | int | Decimal, currency: Currency = "CNY") -> Money:
        """Money from a yuan amount with at most two decimals ("12345.67")."""
        return cls(_fen_from_decimal(_to_decimal(amount)), currency)

    @classmethod
    def optional(cls, fen: int | None) -> Money | None:
        """Money from a nullable fen column: None stays None."""
        return None if fen is None else cls(fen)

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.fen + other.fen, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.fen - other.fen, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.fen, self.currency)

    def times(self, rate: Decimal) -> Money:
        """This amount times a rate, rounded half-up to the fen once."""
        if isinstance(rate, float):
            raise TypeError("rates are Decimal, never float")
        product = (Decimal(self.fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return Money(int(product), self.currency)

    def is_negative(self) -> bool:
        return self.fen < 0

    @property
    def amount_text(self) -> str:
        """The amount as the API writes it ("12345.67"), without going through Decimal: filings
        write millions of them."""
        whole, fen = divmod(abs(self.fen), FEN_PER_YUAN)
        return f"{'-' if self.fen < 0 else ''}{whole}.{fen:02d}"

    def to_api(self) -> dict[str, str]:
        return {"amount": self.amount_text, "currency": self.currency}

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_money,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.to_api()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return money_json_schema(SIGNED_AMOUNT)


SIGNED_AMOUNT = r"^-?(0|[1-9]\d{0,11})(\.\d{1,2})?$"
NON_NEGATIVE_AMOUNT = r"^(0|[1-9]\d{0,11})(\.\d{1,2})?$"
POSITIVE_AMOUNT = r"^([1-9]\d{0,11}(\.\d{1,2})?|0\.(0[1-9]|[1-9]\d?))$"
"""The amounts each kind of money takes, as the document states them, so generated clients
check before sending what the validators check on arrival."""


def money_json_schema(pattern: str) -> JsonSchemaValue:
    return {
        "type": "object",
        "title": "Money",
        "required": ["amount", "currency"],
        "properties": {
            "amount": {
                "type": "string",
                "pattern": pattern,
                "examples": ["12345.67"],
                "description": "Yuan with at most two decimals, as a string.",
            },
            "currency": {"type": "string", "enum": ["CNY"]},
        },
        "additionalProperties": False,
    }


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PydanticCustomError("money_format", "bad money amount")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PydanticCustomError("money_format", "bad money amount") from None
    if not number.is_finite():
        raise PydanticCustomError("money_format", "bad money amount")
    return number


def _fen_from_decimal(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise PydanticCustomError("money_format", "more than two decimals")
    fen = int(number * FEN_PER_YUAN)
    if abs(fen) > MAX_FEN:
        raise PydanticCustomError("money_too_large", "amount too large")
    return fen


_AMOUNT_TEXT = re.compile(r"-?\d+(\.\d{1,2})?")
"""An amount as the API takes it; the schema's pattern also bounds the digits (12), which
`money_too_large` enforces here with its own code."""


def _validate_money(value: object) -> Money:
    if isinstance(value, Money):
        return value
    if not isinstance(value, dict) or "amount" not in value:
        raise PydanticCustomError("money_format", "expected {amount, currency}")
    currency = value.get("currency", "CNY")
    if currency != "CNY" or set(value) - {"amount", "currency"}:
        raise PydanticCustomError("money_currency", "currency must be CNY")
    amount = value["amount"]
    if not isinstance(amount, str) or not _AMOUNT_TEXT.fullmatch(amount):
        raise PydanticCustomError("money_format", "the amount is a decimal string")
    return Money(_fen_from_decimal(Decimal(amount)), "CNY")


def _require_non_negative(value: Money) -> Money:
    if value.is_negative():
        raise PydanticCustomError("money_negative", "amount must not be negative")
    return value


NonNegativeMoney = Annotated[
    Money,
    AfterValidator(_require_non_negative),
    WithJsonSchema(money_json_schema(NON_NEGATIVE_AMOUNT)),
]
"""Money that may be zero but never below: prices, deposits, amounts received."""


def _require_positive(value: Money) -> Money:
    if value.fen <= 0:
        raise PydanticCustomError("money_not_positive", "amount must be above zero")
    return value


PositiveMoney = Annotated[
    Money, AfterValidator(_require_positive), WithJsonSchema(money_json_schema(POSITIVE_AMOUNT))
]
"""Money above zero: bids, maximums, reserves."""


def allocate(amount_fen: int, weights: Sequence[Decimal]) -> list[int]:
    """`amount_fen` divided in proportion to `weights`, to the fen, the parts adding up to the
    amount exactly: each part is rounded down, and the fen left over go to the largest
    remainders (the earlier part on a tie). The one way money is split by shares."""
    total = sum(weights, Decimal(0))
    if not weights or total == 0:
        return [0] * len(weights)
    exact = [Decimal(amount_fen) * weight / total for weight in weights]
    parts = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in exact]
    leftover = amount_fen - sum(parts)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for index in by_remainder[:leftover]:
        parts[index] += 1
    return parts


def query_fen(name: str, value: str | None) -> int | None:
    """A yuan amount given as a query parameter (`?price_min=100000`), in fen, or a
    RequestInvalid naming `query.<name>`: `money_format`, or `money_too_large` above what any
    amount can be stored as."""
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RequestInvalid(errors=[FieldError(f"query.{name}", "money_format")]) from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RequestInvalid(errors=[FieldError(f"query.{name}", "money_format")])
    fen = int(amount * FEN_PER_YUAN)
    if fen > MAX_FEN:
        raise RequestInvalid(errors=[FieldError(f"query.{name}", "money_too_large")])
    return fen


def amount_text_sql(fen: Any) -> ColumnElement[str]:
    """`Money.amount_text` of a fen column, in SQL ("12345.67", "-0.05", "0.00"): a filing's
    lines are written by PostgreSQL, a million at a time."""
    return cast(cast(cast(fen, Numeric) / FEN_PER_YUAN, Numeric(20, 2)), String)

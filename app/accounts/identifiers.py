"""Chinese organization identifiers: unified social credit codes and division codes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic_core import PydanticCustomError
from stdnum.cn import uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

DivisionLevel = Literal["province", "prefecture", "county"]

_USCC_REASONS: list[tuple[type[ValidationError], str]] = [
    (InvalidLength, "length"),
    (InvalidChecksum, "checksum"),
    (InvalidComponent, "component"),
    (InvalidFormat, "format"),
]


def normalize_credit_code(value: str) -> str:
    """The 统一社会信用代码 in canonical form, or a field error naming what is wrong.

    The check character (GB 32100-2015 §5) is verified by python-stdnum's `cn.uscc`.
    """
    try:
        return str(uscc.validate(value))
    except ValidationError as error:
        reason = next((name for kind, name in _USCC_REASONS if isinstance(error, kind)), "format")
        raise PydanticCustomError(
            "uscc_invalid", "invalid unified social credit code", {"reason": reason}
        ) from None


@dataclass(frozen=True)
class Division:
    """An administrative division (行政区划) of GB/T 2260."""

    code: str
    name: str
    level: DivisionLevel


@cache
def divisions() -> dict[str, Division]:
    """The shipped GB/T 2260 table (current codes; built by scripts/build_division_codes.py)."""
    source = resources.files("app.accounts") / "data" / "gb2260.csv"
    with source.open(encoding="utf-8") as handle:
        return {
            row["code"]: Division(row["code"], row["name"], row["level"])  # type: ignore[arg-type]
            for row in csv.DictReader(handle)
        }


def normalize_division_code(value: str) -> str:
    code = value.strip()
    if code not in divisions():
        raise PydanticCustomError("division_code_invalid", "unknown division code", {"code": code})
    return code


def division_path(code: str) -> list[Division]:
    """Province, prefecture and county of a code, as far as they exist."""
    table = divisions()
    candidates = [code[:2] + "0000", code[:4] + "00", code]
    seen: list[Division] = []
    for candidate in candidates:
        division = table.get(candidate)
        if division is not None and division not in seen:
            seen.append(division)
    return seen

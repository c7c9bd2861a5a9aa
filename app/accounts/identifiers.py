"""Organization identifiers: unified social credit codes, division codes, the registration
form's party natures (买卖方性质) and country codes (国别代码)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import pycountry
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


CREDIT_CODE_PATTERN = r"^\s*[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}\s*$"
"""The shape `normalize_credit_code` takes (GB 32100-2015's alphabet, either case), for the
API's document; the check character it verifies too is arithmetic no pattern states."""


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


@dataclass(frozen=True)
class PartyNature:
    """A party's nature as the technology-contract registration form codes it (买卖方性质):
    the legal-person type, and for enterprises the registration type of 《关于划分企业登记注册
    类型的规定》 (《技术合同登记表》填写说明). 500 marks an organization abroad."""

    code: str
    zh: str
    en: str


@cache
def party_natures() -> dict[str, PartyNature]:
    source = resources.files("app.accounts") / "data" / "party_natures.csv"
    with source.open(encoding="utf-8") as handle:
        return {
            row["code"]: PartyNature(row["code"], row["zh"], row["en"])
            for row in csv.DictReader(handle)
        }


DEFAULT_NATURES = {
    "university": "022",
    "research_institute": "021",
    "enterprise": "100",
    "transfer_agency": "100",
    "platform": "100",
}
"""The nature an organization of a kind has until it states a more precise one: 高等院校 and
科研机构 as they are; enterprises, agencies and the platform as 内资企业 (domestic enterprise)."""


def nature_of(kind: str, nature_code: str | None) -> str:
    """An organization's 买卖方性质: the code it stated, else its kind's default."""
    return nature_code or DEFAULT_NATURES[kind]


def normalize_nature_code(code: str) -> str:
    if code not in party_natures():
        raise PydanticCustomError("nature_unknown", "unknown party nature code", {"code": code})
    return code


def normalize_country_code(code: str) -> str:
    """国别代码 (GB/T 2659, identical to ISO 3166-1) as its three letters: given as the
    letters or the three digits (python's pycountry holds the table)."""
    value = code.strip().upper()
    country = (
        pycountry.countries.get(numeric=value)
        if value.isdigit()
        else pycountry.countries.get(alpha_3=value)
    )
    if country is None:
        raise PydanticCustomError("country_unknown", "unknown country code", {"code": code})
    return str(country.alpha_3)

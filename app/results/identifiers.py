"""Intellectual-property identifiers on results: patent application numbers, software
copyright registration numbers and IPC codes."""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

# 专利申请号: since 2003 twelve digits (year, kind, serial) and a check character; before,
# eight. The check character is the digits weighted 2,3,…,9,2,3,… summed modulo 11, with 10
# written X (国家知识产权局《专利申请号标准》ZC 0006-2003).
_PATENT = re.compile(r"^(?:CN|ZL)?\s*(\d{8}|\d{12})\s*\.?\s*([0-9X])$")
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)

# 计算机软件著作权登记号: e.g. 2023SR0123456 (7-digit serial; 6 before 2014).
_SOFTWARE = re.compile(r"^(\d{4})SR(\d{6,7})$")

# IPC: section, class, subclass, optionally main group / subgroup (H01F 1/057).
_IPC = re.compile(r"^([A-H])(\d{2})([A-Z])(?:\s*(\d{1,4})/(\d{2,6}))?$")
IPC_PATTERN = r"^\s*[A-Ha-h][0-9]{2}[A-Za-z](\s*[0-9]{1,4}/[0-9]{2,6})?\s*$"
"""What `normalize_ipc` takes, for the API's document (either case, spaces around)."""


def patent_check_character(digits: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(digits, _WEIGHTS, strict=False))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_patent_number(value: str) -> str:
    """`CN202310123456.7` → `202310123456.7`, refusing a wrong check character."""
    match = _PATENT.match(value.strip().upper())
    if match is None:
        raise PydanticCustomError("patent_number_format", "bad patent application number")
    digits, check = match.groups()
    expected = patent_check_character(digits)
    if check != expected:
        raise PydanticCustomError(
            "patent_check_digit", "wrong check character", {"expected": expected}
        )
    return f"{digits}.{check}"


def patent_kind_digit(number: str) -> str:
    """The kind digit of a normalized application number (1 invention, 2 utility model…)."""
    digits = number.split(".")[0]
    return digits[4] if len(digits) == 12 else digits[2]


def normalize_software_number(value: str) -> str:
    compact = value.strip().upper().replace(" ", "")
    if _SOFTWARE.match(compact) is None:
        raise PydanticCustomError("software_number_format", "bad registration number")
    return compact


def normalize_ipc(value: str) -> str:
    """An IPC symbol in the canonical `H01F 1/057` spacing."""
    match = _IPC.match(value.strip().upper())
    if match is None:
        raise PydanticCustomError("ipc_format", "bad IPC code", {"code": value})
    section, klass, subclass, group, subgroup = match.groups()
    symbol = f"{section}{klass}{subclass}"
    return f"{symbol} {int(group)}/{subgroup}" if group else symbol

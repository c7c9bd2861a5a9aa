"""Technology-contract registration numbers (技术合同登记编号): 16 digits,
`<year:4><division:6><serial:6>` — the year of registration, the registering region's
行政区划代码 (GB/T 2260) and the serial within that region and year. The platform gives its own
without gaps (`registration`); numbers registered elsewhere come in through imports and are
checked here first."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import PydanticCustomError

from app.accounts.identifiers import divisions

FIRST_YEAR = 1990
"""No technology contract was registered under this numbering before the 1990s (the national
registration system dates from 1989–1990)."""


@dataclass(frozen=True)
class RegistrationNumber:
    year: int
    division_code: str
    serial: int

    def __str__(self) -> str:
        return f"{self.year:04d}{self.division_code}{self.serial:06d}"


def parse_registration_number(text: str) -> RegistrationNumber:
    """A registration number's parts (pure). Raises PydanticCustomError:
    `registration_number_format` (not 16 digits), `registration_number_year` (before
    `FIRST_YEAR`), `registration_number_division` (no such GB/T 2260 code),
    `registration_number_serial` (serial 000000)."""
    value = text.strip()
    if len(value) != 16 or not value.isdigit():
        raise PydanticCustomError(
            "registration_number_format", "a registration number is 16 digits"
        )
    number = RegistrationNumber(int(value[:4]), value[4:10], int(value[10:]))
    if number.year < FIRST_YEAR:
        raise PydanticCustomError(
            "registration_number_year", "the year is too early", {"year": number.year}
        )
    if number.division_code not in divisions():
        raise PydanticCustomError(
            "registration_number_division",
            "no such division code",
            {"code": number.division_code},
        )
    if number.serial == 0:
        raise PydanticCustomError("registration_number_serial", "serials start at 000001")
    return number


def normalize_registration_number(text: str) -> str:
    return str(parse_registration_number(text))

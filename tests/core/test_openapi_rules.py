"""What the OpenAPI document says of every text and number (`app/core/openapi.py`)."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints

from app.core.openapi import NO_NUL, NOT_BLANK, SPACE


class Note(BaseModel):
    one: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), NOT_BLANK]
    three: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3), NOT_BLANK]


def test_the_documented_space_is_what_strip_removes() -> None:
    documented = re.compile(f"[{SPACE}]")

    assert {chr(c) for c in range(0x110000) if documented.fullmatch(chr(c))} == {
        chr(c) for c in range(0x110000) if chr(c).isspace()
    }


@pytest.mark.parametrize(
    ("field", "text", "documented"),
    [
        ("one", "a", True),
        ("one", " \u3000a\t", True),
        ("one", " \u0085 ", False),
        ("one", "a\x00", False),
        ("three", "a b", True),
        ("three", " ab ", False),
        ("three", "a\u2028\u2028b", True),
    ],
)
def test_the_pattern_offers_what_validation_takes(field: str, text: str, documented: bool) -> None:
    pattern = Note.model_json_schema()["properties"][field]["pattern"]

    assert bool(re.search(pattern, text)) is documented
    try:
        Note.model_validate({"one": "x", "three": "xyz", field: text})
        accepted = "\x00" not in text  # U+0000 is refused before validation
    except ValueError:
        accepted = False
    assert accepted is documented


def test_no_text_holds_a_nul() -> None:
    assert re.search(NO_NUL, "稀土\n永磁")
    assert not re.search(NO_NUL, "a\x00b")

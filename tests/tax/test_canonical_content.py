"""A filing's content in its canonical form, whoever writes it: the parts PostgreSQL writes
(`canonical_object_sql`, a year's lines) are byte for byte what `json.dumps` would write for
the same values, so a filing computed either way has the same text and hash — and a filing
stored before PostgreSQL wrote its lines is not amended by a recomputation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Boolean, String, bindparam, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.tax.contents import CanonicalJson, canonical, canonical_object_sql

AWKWARD = [
    "普通的中文",
    'a "quoted" word',
    "back\\slash",
    "line\nbreak, tab\t, return\r, form\f, backspace\b",
    "control \x01 \x1f and delete \x7f",
    "separators \u2028 \u2029",
    "astral 𝄞 🙂",
    "",
]


def _python(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("text", AWKWARD)
async def test_postgresql_writes_an_object_as_json_dumps_does(
    sessionmaker: async_sessionmaker[AsyncSession], text: str
) -> None:
    fields = {
        "reason": bindparam(None, text, type_=String),
        "included": literal(True, Boolean),
        "deal_id": literal("0c5e6b1a-9f7e-4c0a-8f43-2b8f1d2e3a4b", String),
        "registration_number": literal(None, String),
    }
    async with sessionmaker() as session:
        written = await session.scalar(select(canonical_object_sql(fields)))
    assert written == _python(
        {
            "reason": text,
            "included": True,
            "deal_id": "0c5e6b1a-9f7e-4c0a-8f43-2b8f1d2e3a4b",
            "registration_number": None,
        }
    )


@pytest.mark.parametrize("present", [True, False])
async def test_an_optional_field_is_left_out_where_null_wherever_it_sorts(
    sessionmaker: async_sessionmaker[AsyncSession], present: bool
) -> None:
    taxes = case((literal(present), "12.50"))
    async with sessionmaker() as session:
        first = await session.scalar(
            select(canonical_object_sql({"b": literal("x")}, optional={"a": taxes}))
        )
        last = await session.scalar(
            select(canonical_object_sql({"b": literal("x")}, optional={"z": taxes}))
        )
        alone = await session.scalar(select(canonical_object_sql({}, optional={"a": taxes})))
    assert first == _python({"a": "12.50", "b": "x"} if present else {"b": "x"})
    assert last == _python({"b": "x", "z": "12.50"} if present else {"b": "x"})
    assert alone == _python({"a": "12.50"} if present else {})


def test_content_with_written_parts_hashes_as_the_same_content_in_python() -> None:
    lines = [{"deal_id": "d1", "income": "1.00"}, {"deal_id": "d2", "income": "2.00"}]
    excluded = [{"deal_id": "d3", "reason": "short_licence"}]
    in_python = {"kind": "eit", "lines": lines, "excluded": excluded, "totals": {"income": "3.00"}}
    written = {
        **in_python,
        "lines": CanonicalJson(_python_array(lines)),
        "excluded": CanonicalJson.array(None, "[]", _python_array(excluded)),
    }
    assert canonical(written) == canonical(in_python)
    assert canonical(written)[0] == _python(in_python)
    assert CanonicalJson.array(None, "[]") == []


def test_a_written_part_deeper_than_a_container_that_holds_it_is_refused() -> None:
    with pytest.raises(TypeError):
        canonical({"lines": [{"deep": CanonicalJson("[]")}]})


def _python_array(items: list[dict[str, Any]]) -> str:
    return "[" + ",".join(_python(item) for item in items) + "]"

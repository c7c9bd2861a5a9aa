"""The shipped technology-field taxonomy (技术领域), zh + en, two levels.

It covers the priority fields of Inner Mongolia's plans (新材料/稀土, 新能源, 现代煤化工, 蒙中医药,
乳业, 生态与防沙治沙 …). A field code is `parent` or `parent.child`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Field:
    code: str
    parent: str | None
    zh: str
    en: str


@cache
def fields() -> dict[str, Field]:
    source = resources.files("app.results") / "data" / "fields.csv"
    with source.open(encoding="utf-8") as handle:
        return {
            row["code"]: Field(row["code"], row["parent"] or None, row["zh"], row["en"])
            for row in csv.DictReader(handle)
        }


def normalize_field(code: str) -> str:
    code = code.strip()
    if code not in fields():
        raise PydanticCustomError("field_unknown", "unknown technology field", {"code": code})
    return code


def label(code: str, locale: Literal["zh-CN", "en"]) -> str:
    field = fields()[code]
    return field.en if locale == "en" else field.zh


Stage = Literal["laboratory", "small_scale", "pilot", "industrialized"]


def stage_of(trl: int) -> Stage:
    """The maturity stage a technology readiness level stands for (实验室/小试/中试/产业化).

    TRL 1–3 are laboratory work, 4–5 small-scale trials (小试), 6–7 pilot production (中试),
    8–9 industrial use (产业化) — GB/T 22900-2022 科学技术研究项目评价通则.
    """
    if trl <= 3:
        return "laboratory"
    if trl <= 5:
        return "small_scale"
    if trl <= 7:
        return "pilot"
    return "industrialized"

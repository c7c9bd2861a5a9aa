"""The score sheet of the transfer agencies' yearly evaluation (年度绩效评价评分表) as data,
`data/agency_score_sheet.json`, and its arithmetic: a score per criterion between 0 and the
criterion's weight, their sum out of 100, passed at the pass mark.

The weights follow the provinces' evaluation of technology-transfer agencies (基础条件 10,
服务绩效 30, 服务能力 30, 规范管理 20, 社会信誉 10); the pass mark is a configurable example.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.errors import ValidationFailed

DATA = Path(__file__).parent / "data" / "agency_score_sheet.json"


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z_]+$")
    title: str
    title_en: str
    weight: Decimal = Field(gt=0, le=100)
    covers: str


class ScoreSheet(BaseModel):
    """One version of the score sheet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    title: str
    pass_mark: Decimal = Field(ge=0, le=100)
    example: bool = Field(description="A configurable example, not a cited rule.")
    source: str
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _out_of_a_hundred(self) -> ScoreSheet:
        if sum(c.weight for c in self.criteria) != 100:
            raise ValueError("the weights add up to 100")
        if len({c.code for c in self.criteria}) != len(self.criteria):
            raise ValueError("criterion codes are unique")
        return self

    def total(self, scores: Mapping[str, Decimal]) -> Decimal:
        """The sum of one score per criterion (pure). Raises ValidationFailed naming
        `body.scores.<code>`: `missing` for a criterion without a score, `not_on_sheet` for a
        code the sheet does not have, `score_outside_weight` (with the weight) for a score
        below 0 or above its criterion's weight."""
        for code in scores:
            if code not in {c.code for c in self.criteria}:
                raise ValidationFailed(f"body.scores.{code}", "not_on_sheet")
        total = Decimal(0)
        for criterion in self.criteria:
            score = scores.get(criterion.code)
            field = f"body.scores.{criterion.code}"
            if score is None:
                raise ValidationFailed(field, "missing")
            if not 0 <= score <= criterion.weight:
                raise ValidationFailed(field, "score_outside_weight", weight=str(criterion.weight))
            total += score
        return total

    def passes(self, total: Decimal) -> bool:
        return total >= self.pass_mark


@cache
def score_sheet() -> ScoreSheet:
    return ScoreSheet.model_validate_json(DATA.read_text(encoding="utf-8"))

"""Score sheets as data (评分表): criteria with weights adding up to 100, an optional pass
mark, the source; and their arithmetic — a score per criterion between 0 and its weight, their
sum out of 100. The transfer agencies' yearly evaluation and the challenges' expert review each
load their own sheet."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.errors import ValidationFailed


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z_]+$")
    title: str
    title_en: str
    weight: Decimal = Field(gt=0, le=100, description="The most it scores; all add up to 100.")
    covers: str = Field(description="What the reviewers look at under it.")


class ScoreSheet(BaseModel):
    """A score sheet (评分表): criteria out of 100, a pass mark where the sheet has one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    title: str
    pass_mark: Decimal | None = Field(default=None, ge=0, le=100)
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
        return self.pass_mark is None or total >= self.pass_mark


def load_score_sheet(path: Path) -> ScoreSheet:
    return ScoreSheet.model_validate_json(path.read_text(encoding="utf-8"))

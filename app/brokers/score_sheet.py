"""The score sheet of the transfer agencies' yearly evaluation (年度绩效评价评分表) as data,
`data/agency_score_sheet.json` (`core.score_sheets`): a score per criterion between 0 and the
criterion's weight, their sum out of 100, passed at the pass mark.

The weights follow the provinces' evaluation of technology-transfer agencies (基础条件 10,
服务绩效 30, 服务能力 30, 规范管理 20, 社会信誉 10); the pass mark is a configurable example.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.core.score_sheets import ScoreSheet, load_score_sheet

DATA = Path(__file__).parent / "data" / "agency_score_sheet.json"


@cache
def score_sheet() -> ScoreSheet:
    return load_score_sheet(DATA)

"""SQL is written only with bound parameters: no statement text is built from values at run
time. The one exception is a constant of the search backend (its rank weights)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT = re.compile(r"""(text|execute|exec_driver_sql)\(\s*f["']""")
ALLOWED = {("search/postgres.py", "RANK_WEIGHTS")}


def test_no_statement_is_formatted_from_values() -> None:
    found = []
    for package in ("app", "search", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if BUILT.search(line) and not any(
                    relative == name and constant in line for name, constant in ALLOWED
                ):
                    found.append(f"{relative}:{number}: {line.strip()}")

    assert found == []

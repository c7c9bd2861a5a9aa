"""Every instant a rule or a record depends on comes from the one clock (`app/core/clock.py`).

This reads the code of app/, search/ and workers/: a `datetime.now()`, `time.time()`,
`date.today()` or a database `now()` anywhere else fails the suite. Durations (`perf_counter`,
`monotonic`) are not instants and stay allowed; so do database defaults (`server_default=`),
which only serve rows written by hand — the sessions stamp audit times from the clock.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.core.auth import MemberRole
from app.core.clock import FrozenClock
from tests.factories import RESULT_BODY, MarketFactory

ROOT = Path(__file__).resolve().parents[1]
THE_CLOCK = ROOT / "app" / "core" / "clock.py"

READS_THE_TIME = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
    ("func", "now"),
    ("func", "current_timestamp"),
    ("func", "current_date"),
    ("func", "current_time"),
    ("func", "localtimestamp"),
    ("func", "clock_timestamp"),
    ("func", "statement_timestamp"),
    ("func", "transaction_timestamp"),
}
SQL_TIME = re.compile(
    r"\bnow\s*\(\s*\)|\bcurrent_(timestamp|date|time)\b|\blocaltimestamp\b|\bclock_timestamp\b",
    re.IGNORECASE,
)


def clock_violations(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place in `source` that reads the time past the clock."""
    tree = ast.parse(source)
    allowed: set[int] = set()  # ids of database defaults and docstrings
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "server_default":
            allowed.update(id(inner) for inner in ast.walk(node.value))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            allowed.add(id(node.value))
    imported: set[str] = set()  # `from time import time` and the like
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"time", "datetime"}:
            for alias in node.names:
                if (node.module, alias.name) in READS_THE_TIME:
                    imported.add(alias.asname or alias.name)
    found = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        # A reference is enough: `clock=time.time` reads the time as surely as a call.
        if isinstance(node, ast.Attribute):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.attr) in READS_THE_TIME:
                found.append((node.lineno, f"{name}.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in imported:
            found.append((node.lineno, node.id))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL_TIME.search(node.value)
        ):
            found.append((node.lineno, f"SQL time in {node.value[:40]!r}"))
    return sorted(found)


def _modules() -> list[Path]:
    return sorted(
        path
        for folder in ("app", "search", "workers")
        for path in (ROOT / folder).rglob("*.py")
        if path != THE_CLOCK
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from datetime import UTC, datetime\nx = datetime.now(UTC)", [(2, "datetime.now")]),
        ("import datetime\nx = datetime.datetime.utcnow()", [(2, "datetime.utcnow")]),
        ("from datetime import date\nx = date.today()", [(2, "date.today")]),
        ("import time\nx = time.time()", [(2, "time.time")]),
        ("from time import time\nx = time()", [(2, "time")]),
        ("import time\ndef f(clock=time.time): ...", [(2, "time.time")]),
        ("from sqlalchemy import func\nq = func.now()", [(2, "func.now")]),
        ("q = 'UPDATE t SET at = now()'", [(1, "SQL time in 'UPDATE t SET at = now()'")]),
        ("q = 'select current_timestamp'", [(1, "SQL time in 'select current_timestamp'")]),
        ("c = mapped_column(server_default=func.now())", []),
        ("c = mapped_column(server_default=text('now()'))", []),
        ("import time\nstarted = time.perf_counter()", []),
        ("x = clock.now()", []),
        ("x = 'the notice is known now (today)'", []),
        ('def f():\n    """Not the database\'s `now()`."""', []),
    ],
)
def test_the_checker_finds_each_way_of_reading_the_time(
    source: str, expected: list[tuple[int, str]]
) -> None:
    assert clock_violations(source) == expected


def test_nothing_reads_the_time_but_the_clock() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _modules()
        for line, what in clock_violations(path.read_text())
    ]

    assert found == [], "read the time from app/core/clock.py instead:\n" + "\n".join(found)


async def test_rows_made_and_changed_through_the_api_carry_the_clocks_time(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    """Audit times too: a result made and edited at the test's (long past) instants says so."""
    university = await factory.organization()
    owner = await factory.person(university, MemberRole.owner)
    made = await client.post(
        "/v1/results",
        json={**RESULT_BODY, "organization_id": str(university.id)},
        headers=owner.headers,
    )
    made_at = clock.now()
    clock.advance(timedelta(days=3))
    edited = await client.put(
        f"/v1/results/{made.json()['id']}",
        json={**RESULT_BODY, "trl": 6},
        headers=owner.headers,
    )

    assert made.status_code == 201, made.text
    assert datetime.fromisoformat(made.json()["created_at"]) == made_at
    assert datetime.fromisoformat(made.json()["updated_at"]) == made_at
    assert edited.status_code == 200, edited.text
    assert datetime.fromisoformat(edited.json()["created_at"]) == made_at
    assert datetime.fromisoformat(edited.json()["updated_at"]) == clock.now()


# --- Beijing dates ---------------------------------------------------------------------------

CALENDAR_PARTS = {"year", "month", "day"}


def _instant_like(node: ast.expr) -> bool:
    """Whether an expression reads like an instant: `now`, `…_at`, `clock.now()`."""
    if isinstance(node, ast.Call):
        node = node.func
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name in {"now", "instant", "wall"} or name.endswith("_at")


def beijing_violations(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place in `source` that takes a year, month or day from an instant
    past the helpers of app/core/clock.py (beijing_date, beijing_time, month_start, …)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "BEIJING":
            found.append((node.lineno, "BEIJING"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"date", "astimezone"}:
                found.append((node.lineno, f".{node.func.attr}()"))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in CALENDAR_PARTS
            and _instant_like(node.value)
        ):
            found.append((node.lineno, f"instant.{node.attr}"))
        elif (
            isinstance(node, ast.Constant)
            and node.value == "Asia/Shanghai"
            and id(node) not in docstrings
        ):
            found.append((node.lineno, "'Asia/Shanghai'"))
    return sorted(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("number = next_number(division, now.year)", [(1, "instant.year")]),
        ("month = registered_at.month", [(1, "instant.month")]),
        ("year = clock.now().year", [(1, "instant.year")]),
        ("today = now.date()", [(1, ".date()")]),
        ("local = now.astimezone(BEIJING)", [(1, ".astimezone()"), (1, "BEIJING")]),
        ("zone = 'Asia/Shanghai'", [(1, "'Asia/Shanghai'")]),
        ("year = beijing_time(now).year", []),
        ("today = beijing_date(now)", []),
        ("deadline = received_on.replace(year=received_on.year + 3)", []),
    ],
)
def test_the_beijing_checker_finds_a_utc_date(source: str, expected: list[tuple[int, str]]) -> None:
    assert beijing_violations(source) == expected


def test_every_calendar_day_is_a_beijing_day() -> None:
    """Registration numbers, reward years, claim deadlines, payout, tax and statistics periods,
    publication windows: all take their year, month or day in Beijing, through one helper."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _modules()
        for line, what in beijing_violations(path.read_text())
    ]

    assert found == [], (
        "use beijing_date/beijing_time/month_start (app/core/clock.py):\n" + "\n".join(found)
    )

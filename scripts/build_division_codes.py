"""Build app/accounts/data/gb2260.csv, the current GB/T 2260 administrative division codes.

The source is python-stdnum's ``stdnum/cn/loc.dat`` (compiled by its maintainers from the
national list), which records every code with the years it was in use. We keep only codes in
use today: those whose last name has no end year. Run again after upgrading python-stdnum.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import stdnum.cn

SOURCE = Path(stdnum.cn.__file__).parent / "loc.dat"
TARGET = Path(__file__).resolve().parent.parent / "app" / "accounts" / "data" / "gb2260.csv"
NAME = re.compile(r'(?:province|county)="([^"]*)"')
PERIOD = re.compile(r"^\[(\d{4})?-(\d{4})?\](.*)$")


def current_name(raw: str) -> str | None:
    """The name a code has today, or None when the code is retired."""
    last = raw.split(",")[-1]
    match = PERIOD.match(last)
    if match is None:
        return last
    return None if match.group(2) else match.group(3)


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    province = ""
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = NAME.search(line)
        if found is None:
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        code = province + line.split()[0]
        name = current_name(found.group(1))
        if name is None or name in {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}:
            continue
        if code.endswith("0000"):
            level = "province"
        elif code.endswith("00"):
            level = "prefecture"
        else:
            level = "county"
        rows.append((code, name, level))
    with TARGET.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["code", "name", "level"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} codes to {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Bulk import of results: 10,000 rows through POST /v1/results/import, CSV and XLSX.

Runs the real app (ASGI, no network) on an embedded PostgreSQL in a scratch directory and
prints one JSON object: seconds and rows per second for each format, and the process's peak
memory.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import time
from pathlib import Path

from openpyxl import Workbook

from app.results.identifiers import patent_check_character

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_client, report, scratch_database, sign_up_with_organization

ROWS = 10_000
HEADER = ["title", "abstract", "keywords", "kind", "ip_number", "ipc_codes", "legal_status",
          "field_code", "trl", "publicly_funded", "division_code", "inventors"]  # fmt: skip


def _rows(year: int) -> list[list[str]]:
    rows = []
    for n in range(ROWS):
        digits = f"{year}1{n:07d}"
        rows.append(
            [
                f"一种稀土永磁材料的制备方法（批次{n}）",
                "通过晶界扩散重稀土元素提高烧结钕铁硼磁体矫顽力，降低重稀土用量。",
                "钕铁硼;晶界扩散",
                "invention_patent",
                f"{digits}.{patent_check_character(digits)}",
                "H01F 1/057",
                "granted",
                "new_materials.rare_earths",
                str(1 + n % 9),
                "是",
                "150203",
                "张明:60;李华:40",
            ]
        )
    return rows


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def _measure(url: str) -> dict[str, object]:
    figures: dict[str, object] = {"rows": ROWS}
    async with bench_client(url) as client:
        headers, organization_id = await sign_up_with_organization(client, "university")
        for name, content in (("csv", _csv(_rows(2021))), ("xlsx", _xlsx(_rows(2022)))):
            started = time.perf_counter()
            response = await client.post(
                "/v1/results/import",
                data={"organization_id": organization_id, "mode": "all_or_nothing"},
                files={"file": (f"results.{name}", content)},
                headers=headers,
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text[:500]
            assert response.json()["imported"] == ROWS
            figures[name] = {
                "seconds": round(elapsed, 2),
                "rows_per_second": round(ROWS / elapsed),
                "file_bytes": len(content),
            }
    return figures


def main() -> None:
    with scratch_database() as url:
        figures = asyncio.run(_measure(url))
    report("import_results", figures)


if __name__ == "__main__":
    main()

"""Bulk import of results: 10,000 rows through POST /v1/results/import, CSV and XLSX.

Runs the real app (ASGI, no network) on an embedded PostgreSQL in a scratch directory and
prints one JSON object: seconds and rows per second for each format, and the process's peak
memory.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from openpyxl import Workbook
from pydantic import SecretStr

from app.cli import run_migrations
from app.core.config import Settings
from app.core.embedded import embedded_database_url, start_embedded_postgres
from app.core.observability import configure_logging
from app.main import create_app
from app.results.identifiers import patent_check_character

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
    settings = Settings(database_url=url, secret_key=SecretStr("bench-" + "k" * 40))
    app = create_app(settings)
    figures: dict[str, object] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=300
    ) as client:
        await client.post(
            "/v1/users",
            json={"email": "tto@example.cn", "password": "Bench-pass-2026", "display_name": "b"},
        )
        credentials = {"username": "tto@example.cn", "password": "Bench-pass-2026"}
        token = (await client.post("/v1/auth/token", data=credentials)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        organization = await client.post(
            "/v1/organizations",
            json={
                "kind": "university",
                "name": "基准测试大学",
                "credit_code": "91110000600037341L",
                "division_code": "150203",
            },
            headers=headers,
        )
        for name, content in (("csv", _csv(_rows(2021))), ("xlsx", _xlsx(_rows(2022)))):
            started = time.perf_counter()
            response = await client.post(
                "/v1/results/import",
                data={"organization_id": organization.json()["id"], "mode": "all_or_nothing"},
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
    await app.state.engine.dispose()
    return figures


def main() -> None:
    configure_logging(json_lines=True, level="WARNING")
    with tempfile.TemporaryDirectory(prefix="techx-bench-") as directory:
        server = start_embedded_postgres(Path(directory), cleanup="delete")
        url = embedded_database_url(server, "bench")
        run_migrations(url)
        figures = asyncio.run(_measure(url))
        server.cleanup()
    print(
        json.dumps(
            {
                "benchmark": "import_results",
                "date": datetime.now(UTC).date().isoformat(),
                "machine": f"{platform.machine()} {platform.python_version()}",
                "rows": ROWS,
                **figures,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()

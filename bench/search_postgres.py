"""The PostgreSQL search backend at 10,000, 100,000 and 1,000,000 realistic Chinese listings.

Prints one JSON object: indexing throughput (documents/s, segmentation included), the index's
size on disk and, for typical queries (2–4 terms, one filter, every facet), p50/p95/p99
latency and queries/s. `BENCH_SEARCH_SIZES=10000,100000` stops earlier.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.core.clock import SystemClock
from app.core.db import create_engine, create_sessionmaker
from app.listings.demo import TOPICS
from app.results.taxonomy import stage_of
from search.backend import Filters, SearchQuery
from search.documents import ListingDocument
from search.postgres import PostgresBackend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, scratch_database

SIZES = [
    int(size) for size in os.environ.get("BENCH_SEARCH_SIZES", "10000,100000,1000000").split(",")
]
BATCH = 1000
MODIFIERS = [
    "高效",
    "低成本",
    "智能",
    "新型",
    "绿色",
    "高性能",
    "模块化",
    "集成化",
    "一体化",
    "连续化",
]
SUFFIXES = [
    "及其制备方法",
    "的工业化应用",
    "关键技术",
    "系统及装置",
    "工艺优化",
    "检测方法",
    "在高寒地区的应用",
    "",
]
SENTENCES = [
    "该技术已在自治区内多家企业完成中试验证，运行稳定。", "项目获得国家自然科学基金与自治区重点研发计划支持。",
    "相比现有技术能耗降低百分之二十以上。", "可显著降低生产成本并提高产品一致性。", "适用于大规模工业化生产。",
    "关键设备已实现国产化替代。", "技术团队可提供安装调试与人员培训服务。", "已申请发明专利并获得授权。",
    "在鄂尔多斯、包头等地开展了示范应用。", "符合国家节能减排与双碳战略方向。", "产品通过第三方检测机构认证。",
    "可与现有生产线兼容改造。", "具有自主知识产权，技术成熟度较高。", "面向煤化工、稀土、乳业等重点产业。",
]  # fmt: skip
DIVISIONS = ["150102", "150105", "150203", "150207", "150602", "150627", "150902", "150702", "152900", "150802", "150502", "150402"]  # fmt: skip
QUERIES = [
    ("稀土 永磁 材料", Filters(region="15")),
    ("风电 叶片", Filters(mode="fixed_price")),
    ("光伏 清扫 机器人", Filters(field="new_energy")),
    ("制氢 电极", Filters(kind="invention_patent")),
    ("发酵乳 益生菌", Filters(region="1501")),
    ("蒙药 提取 工艺", Filters(field="biomedicine")),
    ("荒漠化 遥感 监测 系统", Filters(stage="industrialized")),
    ("甲醇 催化剂", Filters(price_max_fen=500_000_000)),
    ("滴灌 水肥", Filters(region="1508")),
    ("大数据 平台", Filters(mode="negotiable")),
    ("智能 检测", Filters(field="high_end_equipment")),
    ("钕铁", Filters(kind="invention_patent")),
]


def documents(count: int, seed: int) -> Iterator[list[ListingDocument]]:
    """`count` documents in batches of BATCH (a million do not fit in memory at once)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made: list[ListingDocument] = []
    for n in range(count):
        topic = rng.choice(TOPICS)
        trl = rng.randint(2, 9)
        division = rng.choice(DIVISIONS)
        published = start + timedelta(minutes=n)
        made.append(
            ListingDocument(
                id=uuid.uuid4(),
                result_id=uuid.uuid4(),
                title=rng.choice(MODIFIERS) + topic.title + rng.choice(SUFFIXES),
                abstract=topic.abstract + "".join(rng.sample(SENTENCES, 2)),
                keywords=list(topic.keywords),
                field_code=topic.field,
                field_parent=topic.field.split(".")[0],
                kind=rng.choice(
                    ["invention_patent", "utility_model", "software_copyright", "technical_secret"]
                ),
                transfer_type=rng.choice(
                    ["assignment", "exclusive_licence", "non_exclusive_licence", "equity"]
                ),
                mode=rng.choice(["fixed_price", "fixed_price", "negotiable", "auction"]),
                price_fen=rng.choice([5, 10, 20, 50, 100, 200, 500]) * 1_000_000,
                trl=trl,
                stage=stage_of(trl),
                division_code=division,
                prefecture_code=division[:4] + "00",
                province_code="150000",
                owner_id=uuid.uuid4(),
                owner_kind="university",
                owner_name=rng.choice(
                    ["内蒙古大学", "内蒙古工业大学", "内蒙古农业大学", "内蒙古科技大学"]
                ),
                ipc_codes=[topic.ipc],
                published_at=published,
                window_ends_at=published + timedelta(days=15),
                auction_state=None,
            )
        )
        if len(made) == BATCH:
            yield made
            made = []
    if made:
        yield made


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2)


async def _measure(url: str) -> dict[str, object]:
    engine = create_engine(url, pool_size=2)
    backend = PostgresBackend(create_sessionmaker(engine, SystemClock()))
    figures: dict[str, object] = {}
    indexed = 0
    for size in SIZES:
        started = time.perf_counter()
        for batch in documents(size - indexed, seed=size):
            await backend.index(batch)
        index_seconds = time.perf_counter() - started
        added, indexed = size - indexed, size
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE search_listings"))
            disk = await connection.scalar(
                text("SELECT pg_total_relation_size('search_listings') / 1048576.0")
            )
        for text_query, filters in QUERIES:  # warm the cache once
            await backend.search(SearchQuery(text=text_query, filters=filters))
        samples: list[float] = []
        totals: list[int] = []
        for _ in range(20):
            for text_query, filters in QUERIES:
                began = time.perf_counter()
                answer = await backend.search(SearchQuery(text=text_query, filters=filters))
                samples.append(time.perf_counter() - began)
                totals.append(answer.total)
        figures[f"{size}_documents"] = {
            "indexing_documents_per_second": round(added / index_seconds),
            "index_mib": round(float(disk)),
            "queries": len(samples),
            "p50_ms": _percentile(samples, 0.50),
            "p95_ms": _percentile(samples, 0.95),
            "p99_ms": _percentile(samples, 0.99),
            "queries_per_second": round(len(samples) / sum(samples), 1),
            "median_hits_per_query": int(statistics.median(totals)),
        }
    await engine.dispose()
    return figures


def main() -> None:
    with scratch_database() as url:
        figures = asyncio.run(_measure(url))
    report("search_postgres", figures)


if __name__ == "__main__":
    main()

"""Annual income-tax filings (技术转让所得减免) for a year of registered technology contracts:
1,000,000 contracts across 50,000 selling taxpayers, filed the way the worker files them at the
period end (`app.tax.tasks.file_period`: chunks of taxpayers, set-based reads, one transaction
per chunk). Reports the time, the filing process's peak memory, and checks the filings add up
to the money received. Prints one JSON object.

The year is generated inside PostgreSQL (`INSERT … SELECT generate_series`), so setting up
does not weigh on the filing process's memory: results, listings (assignments and licences of
3–10 years), deals, registered contracts and one payment received per contract in 2025;
a few contracts are development contracts (no transfer income) and a few licences run 3 years
(excluded, and listed with the reason). Sellers are skewed as in life: every one has a
contract, a few universities have thousands.

`BENCH_CONTRACTS` / `BENCH_TAXPAYERS` scale it down for a quick look.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, scratch_database

from app.core.clock import SystemClock
from app.core.db import create_engine, create_sessionmaker, libpq_url
from app.tax import service as tax
from app.tax.models import FilingKind
from app.tax.tasks import file_period

CONTRACTS = int(os.environ.get("BENCH_CONTRACTS", "1000000"))
TAXPAYERS = int(os.environ.get("BENCH_TAXPAYERS", "50000"))
BUYERS = max(2, TAXPAYERS // 2)
YEAR = 2025
"""The year the contracts are paid in (`{year}` in SETUP)."""
FILED_AT = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)

# Ids are md5-derived, so the data are the same on every run. Seller i owns organization
# uuid md5('s'||i); the first TAXPAYERS contracts give each seller one, the rest go mostly to
# the first sellers (the square of a hashed, uniform-looking draw).
SETUP = [
    """
    INSERT INTO organizations (id, kind, name, credit_code, division_code, verification_status)
    SELECT md5('s' || i)::uuid,
           (CASE WHEN i % 5 = 0 THEN 'university' WHEN i % 5 = 1 THEN 'research_institute'
                 ELSE 'enterprise' END)::organization_kind,
           '卖方机构' || i, '91' || lpad(i::text, 16, '0'), '150203', 'verified'
    FROM generate_series(1, {taxpayers}) AS i
    """,
    """
    INSERT INTO organizations (id, kind, name, credit_code, division_code, verification_status)
    SELECT md5('b' || i)::uuid, 'enterprise', '买方企业' || i, '92' || lpad(i::text, 16, '0'), '150102',
           'verified'
    FROM generate_series(1, {buyers}) AS i
    """,
    """
    CREATE TEMP TABLE plan AS
    SELECT i,
           CASE WHEN i <= {taxpayers} THEN i
                ELSE 1 + floor({taxpayers} * power((i * 2654435761::bigint % 1000003) / 1000003.0, 2))::int
           END AS seller,
           1 + (i * 7919) % {buyers} AS buyer,
           CASE WHEN i % 20 = 0 THEN 'development' WHEN i % 4 = 0 THEN 'licence'
                ELSE 'transfer' END AS contract_type,
           CASE WHEN i % 40 = 4 THEN 3 ELSE 5 + i % 6 END AS licence_years,
           (50000 + (i * 104729) % 2000000) * 100::bigint AS amount_fen,
           timestamptz '{year}-01-01 00:00+08' + (i % 365) * interval '1 day' + interval '10 hours'
               AS received_at
    FROM generate_series(1::bigint, {contracts}) AS i
    """,
    """
    INSERT INTO results (id, organization_id, title, abstract, keywords, kind, ipc_codes,
                         legal_status, field_code, trl, publicly_funded, division_code)
    SELECT md5('r' || i)::uuid, md5('s' || seller)::uuid, '一种稀土永磁材料的制备方法' || i,
           '本发明公开了一种稀土永磁材料的制备方法。', ARRAY['稀土'],
           (CASE WHEN i % 10 = 3 THEN 'software_copyright' ELSE 'invention_patent' END)::result_kind,
           ARRAY['H01F1/057'], 'granted', '080501', 6, true, '150203'
    FROM plan
    """,
    """
    INSERT INTO listings (id, result_id, organization_id, mode, transfer_type, licence_years,
                          price_fen, window_days, state)
    SELECT md5('l' || i)::uuid, md5('r' || i)::uuid, md5('s' || seller)::uuid, 'fixed_price',
           (CASE WHEN contract_type = 'licence' THEN 'exclusive_licence'
                 ELSE 'assignment' END)::transfer_type,
           CASE WHEN contract_type = 'licence' THEN licence_years END,
           amount_fen, 15, 'closed'
    FROM plan
    """,
    """
    INSERT INTO deals (id, listing_id, seller_organization_id, buyer_organization_id, price_fen,
                       source, state, opened_at)
    SELECT md5('d' || i)::uuid, md5('l' || i)::uuid, md5('s' || seller)::uuid,
           md5('b' || buyer)::uuid, amount_fen, 'fixed_price_listing', 'open',
           received_at - interval '60 days'
    FROM plan
    """,
    """
    INSERT INTO contracts (id, deal_id, state, effective_version, registration_number,
                           registered_at, created_at)
    SELECT md5('c' || i)::uuid, md5('d' || i)::uuid, 'registered', 1,
           '{year}150203' || lpad(i::text, 7, '0'), received_at - interval '20 days',
           received_at - interval '60 days'
    FROM plan
    """,
    """
    INSERT INTO contract_versions (id, contract_id, number, contract_type, subject, total_fen,
                                   transaction_fen, starts_on, ends_on, exclusivity, milestones,
                                   created_at, seller_signed_at, buyer_signed_at)
    SELECT md5('v' || i)::uuid, md5('c' || i)::uuid, 1, contract_type::contract_type,
           '技术合同' || i, amount_fen, amount_fen, make_date({year}, 1, 1), make_date({year} + 5, 12, 31),
           (CASE WHEN contract_type = 'licence' THEN 'exclusive' END)::exclusivity, '[]',
           received_at - interval '60 days', received_at - interval '40 days',
           received_at - interval '40 days'
    FROM plan
    """,
    """
    INSERT INTO payments (id, deal_id, milestone, payer_organization_id, amount_fen, state,
                          provider, provider_reference, instructions, created_at, received_at)
    SELECT md5('p' || i)::uuid, md5('d' || i)::uuid, 1, md5('b' || buyer)::uuid, amount_fen,
           'received', 'offline', 'BENCH' || i, '{{}}', received_at - interval '5 days', received_at
    FROM plan
    """,
    "ANALYZE",
]

EXPECTED = """
    SELECT count(DISTINCT seller),
           sum(amount_fen) FILTER (WHERE contract_type = 'transfer'
                                   OR (contract_type = 'licence' AND licence_years >= 5))
    FROM plan
"""


def _fen(text: str) -> int:
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents or 0)


async def main() -> None:
    with scratch_database() as url:
        connection = await asyncpg.connect(libpq_url(url))
        started = time.perf_counter()
        for statement in SETUP:
            # Sizes are integers of ours, formatted in; nothing else reaches this SQL.
            await connection.execute(
                statement.format(contracts=CONTRACTS, taxpayers=TAXPAYERS, buyers=BUYERS, year=YEAR)
            )
        setup_seconds = time.perf_counter() - started
        sellers, eligible_fen = await connection.fetchrow(EXPECTED)

        engine = create_engine(url, pool_size=2)
        maker = create_sessionmaker(engine, SystemClock())
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        filed = await file_period(maker, FilingKind.eit_transfer_income, "2025", FILED_AT)
        filing_seconds = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        # The filings add up to the money received on eligible contracts; a rerun adds nothing.
        totals = await connection.fetch(
            "SELECT content->'totals'->>'income' AS income, "
            "jsonb_array_length(content->'lines') AS lines FROM tax_filings"
        )
        income_fen = sum(_fen(row["income"]) for row in totals)
        started = time.perf_counter()
        rerun = await file_period(maker, FilingKind.eit_transfer_income, "2025", FILED_AT)
        rerun_seconds = time.perf_counter() - started
        filings_mib = await connection.fetchval(
            "SELECT pg_total_relation_size('tax_filings') / 1048576.0"
        )
        await connection.close()
        await engine.dispose()

    report(
        "tax_filings",
        {
            "contracts": CONTRACTS,
            "taxpayers": TAXPAYERS,
            "chunk": tax.CHUNK,
            "setup_seconds": round(setup_seconds, 1),
            "filings": filed,
            "filing_seconds": round(filing_seconds, 1),
            "contracts_per_second": round(CONTRACTS / filing_seconds),
            "target_seconds": 60,
            "peak_rss_mib": round(peak_kib / 1024),
            "rss_before_filing_mib": round(rss_before / 1024),
            "target_rss_mib": 512,
            "lines": sum(row["lines"] for row in totals),
            "income_matches_received": income_fen == eligible_fen and filed == sellers,
            "rerun_filings": rerun,
            "rerun_seconds": round(rerun_seconds, 1),
            "tax_filings_mib": round(float(filings_mib)),
        },
    )


if __name__ == "__main__":
    asyncio.run(main())

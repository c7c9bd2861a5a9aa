"""GET /metrics: Prometheus metrics — the process's own (requests, latencies, bids, search
errors) and, read from PostgreSQL at each scrape, the platform's state an operator pages on:
the outbox's lag and backlog, the job queue, webhook deliveries and disabled endpoints, open
auctions, tax filings, the database pool. `deploy/grafana-dashboard.json` charts them and
`deploy/prometheus-alerts.yml` pages on them."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from app.auctions import queries as auctions
from app.core import jobs, outbox
from app.core.clock import Now
from app.tax import queries as tax
from app.webhooks import queries as webhooks

router = APIRouter(tags=["operations"])

READY = Gauge("techx_database_reachable", "1 when this scrape could read the database, else 0")
OUTBOX_BACKLOG = Gauge("techx_outbox_backlog", "Domain events recorded but not yet relayed")
OUTBOX_LAG = Gauge(
    "techx_outbox_lag_seconds", "Age of the oldest event not yet relayed (0 when none waits)"
)
JOBS = Gauge(
    "techx_jobs",
    "Jobs by queue, task and status (todo, doing, failed)",
    ["queue", "task", "status"],
)
WEBHOOK_DELIVERIES = Gauge(
    "techx_webhook_deliveries",
    "Webhook deliveries by state (pending, succeeded, failed)",
    ["state"],
)
WEBHOOK_ENDPOINTS_DISABLED = Gauge(
    "techx_webhook_endpoints_disabled", "Endpoints disabled by their owners or after failures"
)
AUCTIONS_OPEN = Gauge("techx_auctions_open", "Auctions open for bids")
AUCTIONS_CLOSING = Gauge(
    "techx_auctions_closing_within_hour", "Open auctions ending within the hour"
)
TAX_FILINGS = Gauge("techx_tax_filings", "Tax filings by kind and state", ["kind", "state"])
DATABASE_POOL_IN_USE = Gauge("techx_database_pool_in_use", "Connections of this process in use")
DATABASE_POOL_SIZE = Gauge("techx_database_pool_size", "Connections this process keeps open")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, now: Now) -> Response:
    """Prometheus metrics: this process's, and the platform's state read at the scrape. When
    the database cannot be read, `techx_database_reachable` is 0 and its figures keep their
    last values."""
    state = request.app.state
    pool = state.engine.sync_engine.pool
    DATABASE_POOL_IN_USE.set(pool.checkedout())
    DATABASE_POOL_SIZE.set(pool.size())
    try:
        async with state.sessionmaker() as session:
            backlog, oldest = await outbox.backlog(session)
            job_counts = await jobs.job_counts(session)
            deliveries = await webhooks.delivery_counts(session)
            disabled = await webhooks.disabled_endpoints(session)
            open_auctions, closing = await auctions.open_auctions(session, now)
            filings = await tax.filing_counts(session)
    except (SQLAlchemyError, OSError):
        READY.set(0)
    else:
        READY.set(1)
        OUTBOX_BACKLOG.set(backlog)
        OUTBOX_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
        JOBS.clear()
        for queue, task, status, count in job_counts:
            JOBS.labels(queue=queue, task=task, status=status).set(count)
        for delivery_state in ("pending", "succeeded", "failed"):
            WEBHOOK_DELIVERIES.labels(state=delivery_state).set(deliveries.get(delivery_state, 0))
        WEBHOOK_ENDPOINTS_DISABLED.set(disabled)
        AUCTIONS_OPEN.set(open_auctions)
        AUCTIONS_CLOSING.set(closing)
        TAX_FILINGS.clear()
        for kind, filing_state, count in filings:
            TAX_FILINGS.labels(kind=kind, state=filing_state).set(count)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

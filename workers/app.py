"""The procrastinate application: a PostgreSQL-backed job queue shared by every worker host."""

from __future__ import annotations

from typing import Any

import procrastinate
import psycopg_pool
from procrastinate.exceptions import AppNotOpen

from app.core.db import libpq_url
from app.core.jobs import database_url
from workers.registry import register


def _pool(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    # Resolved when the app is opened, so a URL known only at start-up is the one used.
    return psycopg_pool.AsyncConnectionPool(
        conninfo=libpq_url(database_url()), min_size=1, max_size=4, **options
    )


_connector = procrastinate.PsycopgConnector(pool_factory=_pool)
worker_app = procrastinate.App(connector=_connector)
register(worker_app)


def queue_is_open() -> bool:
    """Whether this process has the job queue open (it runs a worker, or opened it to defer)."""
    try:
        _connector.pool  # noqa: B018 - the property raises when the queue is not open
    except AppNotOpen:
        return False
    return True

"""The procrastinate application: a PostgreSQL-backed job queue shared by every worker host."""

from __future__ import annotations

from typing import Any

import procrastinate
import psycopg_pool

from app.core.config import get_settings
from app.core.db import libpq_url


def _pool(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    # Resolved when the app is opened, so the embedded database's URL (known only once it
    # has started) is the one used.
    url = get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set for the job queue")
    return psycopg_pool.AsyncConnectionPool(
        conninfo=libpq_url(url), min_size=1, max_size=4, **options
    )


worker_app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(pool_factory=_pool),
    import_paths=["workers.tasks"],
)

"""The procrastinate application: a PostgreSQL-backed job queue shared by every worker host."""

from __future__ import annotations

from typing import Any

import procrastinate
import psycopg_pool

from app.core.config import get_settings
from app.core.db import libpq_url

_database_url: str | None = None


def use_database(url: str) -> None:
    """Point the job queue and the jobs at `url` (the embedded database, a test database);
    otherwise they use DATABASE_URL."""
    global _database_url
    _database_url = url


def database_url() -> str:
    url = _database_url or get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set for the job queue")
    return url


def _pool(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    # Resolved when the app is opened, so a URL known only at start-up is the one used.
    return psycopg_pool.AsyncConnectionPool(
        conninfo=libpq_url(database_url()), min_size=1, max_size=4, **options
    )


worker_app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(pool_factory=_pool),
    import_paths=["workers.tasks"],
)

"""The embedded PostgreSQL (pgserver) used when no DATABASE_URL is configured."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, *, cleanup: str = "stop") -> Any:
    """Start (or join) the private PostgreSQL in `data_dir/pg`; it stops when the last process
    using it exits. Returns the pgserver handle."""
    import pgserver  # imported here: production never needs it

    path = (data_dir / "pg").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode=cleanup)  # type: ignore[attr-defined]
    logger.info("embedded PostgreSQL at %s", path)
    return server


def embedded_database_url(server: Any, database: str = "techexchange") -> str:
    """The URL of `database` on the embedded server, created if missing."""
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database))

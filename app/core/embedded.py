"""The embedded PostgreSQL (pgserver) used when no DATABASE_URL is configured.

pgserver starts one postmaster per data directory, keeps the ids of the processes using it in
`.handle_pids.json`, and stops it when the last of them exits. Two things a killed process
leaves behind are cleared before starting: its id in that list (else no later process would
ever be the last one, and the server would outlive them all), and a `postmaster.pid` whose
process is gone (else a recycled process id could pass for the server).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)


def _forget_the_dead(pgdata: Path) -> None:
    users = pgdata / ".handle_pids.json"
    if users.exists():
        try:
            pids = [int(pid) for pid in json.loads(users.read_text())]
        except (ValueError, TypeError):
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            gone = sorted(set(pids) - set(alive))
            logger.info("embedded PostgreSQL: forgetting exited users %s", gone)
            users.write_text(json.dumps(alive))
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        lines = pid_file.read_text().splitlines()
        try:
            server = psutil.Process(int(lines[0]))
            if server.name() == "postgres" and str(pgdata) in " ".join(server.cmdline()):
                return
        except (IndexError, ValueError, psutil.Error):
            pass
        logger.warning("embedded PostgreSQL: removing the stale %s", pid_file)
        pid_file.unlink()


def start_embedded_postgres(data_dir: Path, *, cleanup: str = "stop") -> Any:
    """Start (or join) the private PostgreSQL in `data_dir/pg`; it stops when the last process
    using it exits (`stop_embedded_postgres`, or at exit). Returns the pgserver handle."""
    with warnings.catch_warnings():
        # pgserver keeps its lock in the user's runtime directory and says so loudly when the
        # session has none (containers, CI); the fallback it takes is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pgserver  # imported here: production never needs it
        from pgserver.postgres_server import PostgresServer

    path = (data_dir / "pg").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        # Under pgserver's own inter-process lock, which guards the same files.
        with PostgresServer._lock:
            _forget_the_dead(path)
    server = pgserver.get_server(path, cleanup_mode=cleanup)  # type: ignore[attr-defined]
    logger.info("embedded PostgreSQL at %s", path)
    return server


def stop_embedded_postgres(server: Any) -> None:
    """Leave the server: it stops if this process was its last user."""
    server.cleanup()


def embedded_database_url(server: Any, database: str = "techexchange") -> str:
    """The URL of `database` on the embedded server, created if missing."""
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database))

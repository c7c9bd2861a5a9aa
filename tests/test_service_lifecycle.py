"""`techx serve` starts and stops like a service, on its own embedded PostgreSQL: a database
without the schema is one line and exit status 2; SIGTERM and SIGINT stop uvicorn, the worker
and the database; a start after a SIGKILL recovers by itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(data_dir: Path) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "TEST_DATABASE_URL", "SANDBOX", "MEILI_URL"}
    }
    return {**environment, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}


def techx(data_dir: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "app.cli", *arguments],
        env=_environment(data_dir),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The embedded server of `data_dir`, if one runs."""
    pgdata = str((data_dir / "pg").resolve())
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and pgdata in " ".join(process.info["cmdline"] or []):
            return process
    return None


def serve(data_dir: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = techx(data_dir, "serve", "--port", str(port), *options)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("techx serve did not become ready")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    yield directory
    leftover = postmaster(directory)
    if leftover is not None:  # never leave a server behind, even when a test fails
        leftover.kill()


def test_a_database_without_the_schema_is_one_line_and_exit_2(data_dir: Path) -> None:
    for command in (["serve"], ["worker"], ["reindex"]):
        process = techx(data_dir, *command)
        out, err = process.communicate(timeout=120)

        assert process.returncode == 2, (command, out, err)
        assert err.strip().splitlines() == [
            "techx: the database has no schema yet: run `techx migrate` "
            "(or `techx serve --migrate`)"
        ], err
        assert "Traceback" not in out + err
        assert postmaster(data_dir) is None


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_api_the_worker_and_the_database(
    data_dir: Path, stop: signal.Signals
) -> None:
    process, base = serve(data_dir, "--migrate", "--with-worker")
    database = postmaster(data_dir)
    assert database is not None

    process.send_signal(stop)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert "Traceback" not in err
    database.wait(timeout=30)
    assert postmaster(data_dir) is None
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_a_start_after_sigkill_recovers(data_dir: Path) -> None:
    process, _ = serve(data_dir, "--migrate")
    database = postmaster(data_dir)
    assert database is not None
    # The whole process group dies at once, as in a crash or an OOM kill: the database's
    # postmaster.pid and the server's place in pgserver's list of users stay behind.
    process.kill()
    process.wait(timeout=30)
    database.kill()
    database.wait(timeout=30)
    assert (data_dir / "pg" / "postmaster.pid").exists()

    again, base = serve(data_dir)
    healthy = httpx.get(f"{base}/readyz", timeout=5)
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=60)

    assert healthy.status_code == 200
    assert again.returncode == 0
    assert postmaster(data_dir) is None


def test_a_killed_server_leaves_the_database_to_the_next_one_to_stop(data_dir: Path) -> None:
    """Only the API process is killed: its database lives on, and the next start stops it
    when it stops (a killed user no longer counts)."""
    process, _ = serve(data_dir, "--migrate")
    process.kill()
    process.wait(timeout=30)
    assert postmaster(data_dir) is not None

    again, _ = serve(data_dir)
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=60)

    assert again.returncode == 0
    deadline = time.monotonic() + 30
    while postmaster(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postmaster(data_dir) is None


def test_a_killed_supervisor_takes_its_api_processes_with_it(data_dir: Path) -> None:
    process, base = serve(data_dir, "--migrate", "--workers", "2")
    api_processes = [
        child
        for child in psutil.Process(process.pid).children(recursive=True)
        if child.name().startswith("python")
    ]
    assert len(api_processes) >= 2

    process.kill()
    process.wait(timeout=30)
    _, alive = psutil.wait_procs(api_processes, timeout=30)

    assert alive == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)

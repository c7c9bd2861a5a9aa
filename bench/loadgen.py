"""Native load generators and the servers they load: `wrk` for HTTP, `pgbench` for the
database floor, `techx serve` and the bare FastAPI ceiling as processes of their own.

A Python load generator on a two-core machine spends the cores it measures; wrk (C, one thread)
and pgbench (C) leave them to the server. Every HTTP case runs through the one Lua script
`bench/wrk/request.lua`, the ceiling included, so each pays the same client-side cost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pgserver

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CONNECTIONS = 50
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
SECRET = "bench-" + "k" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wrk_binary() -> str:
    """The wrk on PATH, or a clear stop saying how to get it (`make bench` installs it)."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench: wrk is missing: apt-get install wrk (Debian/Ubuntu)")
    return found


def wrk(
    base_url: str,
    paths: Sequence[str],
    *,
    tokens: Sequence[str] = (),
    method: str = "GET",
    json_body: object | None = None,
    form: dict[str, str] | None = None,
    fresh_idempotency_keys: bool = False,
    connections: int = CONNECTIONS,
    seconds: float = SECONDS,
) -> dict[str, object]:
    """Load `base_url` with wrk (one thread, `connections` connections) for `seconds`, taking
    `paths` and `tokens` in turn: requests/s, p50/p99 in ms, statuses and socket errors."""
    environment = {
        **os.environ,
        "BENCH_METHOD": method,
        "BENCH_PATHS": "\n".join(paths),
        "BENCH_TOKENS": "\n".join(tokens),
        "BENCH_IDEMPOTENCY": "1" if fresh_idempotency_keys else "0",
    }
    if json_body is not None:
        environment["BENCH_BODY"] = json.dumps(json_body, ensure_ascii=False)
    if form is not None:
        environment["BENCH_BODY"] = urlencode(form)
        environment["BENCH_CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    raw = run_wrk(base_url, "request.lua", environment, connections=connections, seconds=seconds)
    statuses = {int(status): count for status, count in raw["statuses"].items()}
    return {
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "requests": raw["requests"],
        "statuses": dict(sorted(statuses.items())),
        "socket_errors": raw["socket_errors"],
        "timeouts": raw["timeouts"],
    }


def run_wrk(
    base_url: str,
    script: str,
    environment: dict[str, str],
    *,
    connections: int = CONNECTIONS,
    seconds: float = SECONDS,
) -> dict[str, Any]:
    """Run wrk (one thread) with `bench/wrk/<script>`: the figures its `done` printed on the
    line `BENCH_JSON {...}`."""
    completed = subprocess.run(  # noqa: S603 - the benchmark's own load generator
        [
            wrk_binary(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "wrk" / script),
            base_url,
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(
        (line for line in completed.stdout.splitlines() if line.startswith("BENCH_JSON ")), None
    )
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{completed.stdout}\n{completed.stderr}")
    figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return figures


def share(case: dict[str, object], ceiling: dict[str, object]) -> dict[str, object]:
    """The case with its share of the ceiling's requests/s."""
    rate = float(case["requests_per_second"])  # type: ignore[arg-type]
    top = float(ceiling["requests_per_second"])  # type: ignore[arg-type]
    return {**case, "share_of_ceiling": round(rate / top, 3)}


WARMUP_SECONDS = 2.0


def beside_ceiling(bare_url: str, case: Callable[..., dict[str, object]]) -> dict[str, object]:
    """`case` (run for the `seconds=` it is given) measured right after the bare endpoint, after
    a warm-up of its own, with its share of that ceiling: the machine's speed drifts over a
    run of minutes (the ceiling moved 9,400–11,200 requests/s between runs), so a share is
    taken of the ceiling beside it, and a fresh process's first requests (statements prepared
    on each connection, validators built) are not part of it."""
    case(seconds=WARMUP_SECONDS)
    top = wrk(bare_url, ["/constant"])
    return {
        **share(case(seconds=SECONDS), top),
        "ceiling_requests_per_second": top["requests_per_second"],
    }


def pgbench_binary() -> Path:
    """pgbench from the PostgreSQL that pgserver ships."""
    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"


def pgbench(
    libpq_url: str,
    script: str,
    *,
    variables: dict[str, str],
    clients: int = CONNECTIONS,
    seconds: float = SECONDS,
) -> dict[str, object]:
    """Run `script` (pgbench syntax) from `clients` connections for `seconds`, prepared
    statements: transactions/s, p50/p99 from the per-transaction log, failed transactions."""
    with tempfile.TemporaryDirectory(prefix="techx-pgbench-") as directory:
        path = Path(directory) / "transaction.sql"
        path.write_text(script)
        arguments = [
            str(pgbench_binary()),
            "--no-vacuum",
            "--protocol=prepared",
            f"--client={clients}",
            f"--jobs={min(clients, 2)}",
            f"--time={max(1, round(seconds))}",
            "--log",
            f"--log-prefix={directory}/log",
            f"--file={path}",
        ]
        for name, value in variables.items():
            arguments.append(f"--define={name}={value}")
        completed = subprocess.run(  # noqa: S603 - PostgreSQL's own benchmark tool
            [*arguments, libpq_url], capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{completed.stdout}\n{completed.stderr}")
        latencies = [
            int(line.split()[2])
            for log in Path(directory).glob("log*")
            for line in log.read_text().splitlines()
        ]
    tps = re.search(r"tps = ([\d.]+)", completed.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", completed.stdout)
    ordered = sorted(latencies)
    return {
        "transactions_per_second": round(float(tps.group(1)), 1) if tps else None,
        "p50_ms": round(statistics.median(ordered) / 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] / 1000, 2),
        "transactions": len(ordered),
        "failed": int(failed.group(1)) if failed else 0,
    }


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-like `techx serve` for the benchmarks: JSON logs at
    WARNING, the bench's secret, limits lifted for the one address the load comes from."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "true",
        "ENVIRONMENT": "production",
        "RATE_LIMITS": json.dumps({"search": 10**9, "writes": 10**9, "bids": 10**9}),
        **extra,
    }


def wait_until_ready(base_url: str, path: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            raise RuntimeError(f"the server at {base_url} exited with {process.returncode}")
        try:
            if httpx.get(base_url + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base_url}{path} never answered")


@contextmanager
def running(arguments: list[str], environment: dict[str, str], ready_path: str) -> Iterator[str]:
    """A server process (`python -m …` with `--port` appended) until the block ends: its
    base URL."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own servers, started before measuring
        [sys.executable, *arguments, "--port", str(port)],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url, ready_path, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def ceiling(environment: dict[str, str]) -> Iterator[str]:
    """The bare FastAPI endpoint (`bench/ceiling.py`) under the same uvicorn and HTTP protocol
    as `techx serve`: its base URL.
    Load it at `/constant`."""
    with running(
        ["-m", "uvicorn", "--app-dir", "bench", "ceiling:app", "--log-level", "warning",
         "--no-access-log", "--http", "app.core.transport:CoalescingHttpProtocol"],
        environment,
        "/constant",
    ) as base_url:  # fmt: skip
        yield base_url


@contextmanager
def api(environment: dict[str, str], *options: str) -> Iterator[str]:
    """`techx serve` with `options` (`--demo`, `--workers 2`): its base URL."""
    with running(["-m", "app.cli", "serve", *options], environment, "/healthz") as base_url:
        yield base_url

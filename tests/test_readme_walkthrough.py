"""The README's "Try it in five minutes", executed as a newcomer would run it: `techx serve` as
`make run` starts it (sandbox, demo market, worker in the process), one shell following the live
auction's events, another searching, bidding, downloading and moving the clock."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_service_lifecycle import _environment, _free_port, postmaster

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "app.cli", "serve", "--migrate", "--demo", "--with-worker"]
"""What `make run` runs."""
BASH = shutil.which("bash") or "/bin/bash"


def walkthrough_block(name: str) -> str:
    """The shell code under `<!-- walkthrough:<name> -->` in the README."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- walkthrough:{name} -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert match is not None, f"the README has no walkthrough:{name} block"
    return match.group(1)


@pytest.fixture
def served(tmp_path: Path) -> tuple[str, Path]:
    """`make run`'s server on a fresh data directory and a free port."""
    port = _free_port()
    data_dir = tmp_path / "data"
    environment = {**_environment(data_dir), "SANDBOX": "true"}
    server = subprocess.Popen(  # noqa: S603 - our own command
        [*SERVE, "--port", str(port)],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[0][-5000:]
            try:
                if httpx.get(f"{api}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield api, tmp_path
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
        assert postmaster(data_dir) is None


def test_the_readme_walkthrough_runs_as_written(served: tuple[str, Path]) -> None:
    api, directory = served
    environment = {**os.environ, "API": api}
    setup = walkthrough_block("setup")
    stream = subprocess.Popen(  # noqa: S603 - the README's own commands
        [BASH, "-c", setup + walkthrough_block("stream")],
        env=environment,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)  # the stream connects before the first bid
        main = subprocess.run(  # noqa: S603 - the README's own commands
            [BASH, "-euo", "pipefail", "-c", setup + walkthrough_block("main")],
            env=environment,
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=180,
        )
        # The stream ends by itself after the auction's last event.
        events, _ = stream.communicate(timeout=60)
    finally:
        stream.kill()

    assert main.returncode == 0, main.stdout[-3000:] + main.stderr[-3000:]
    assert "钕铁硼" in main.stdout  # the search found the magnets
    assert '"extended":' in main.stdout  # the bid was placed
    assert "\nsettled\n" in main.stdout
    assert '"source": "auction"' in main.stdout
    assert (directory / "contract.pdf").read_bytes().startswith(b"%PDF")
    assert (directory / "filing.xlsx").read_bytes().startswith(b"PK")
    kinds = re.findall(r"^event: (\w+)$", events, re.MULTILINE)
    assert "bid" in kinds
    assert kinds[-1] == "settled", events[-2000:]

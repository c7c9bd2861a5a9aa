"""Reading the market under load, measured with wrk (C, one thread, 50 connections) against
`techx serve` (the demo market), beside the bare FastAPI endpoint under the same uvicorn in the
same run — the framework's ceiling:

- `GET /healthz` (the app's plumbing alone),
- `GET /v1/me` with a person's access token,
- `GET /v1/listings/{id}` with an access token and with an API key,
- the typical search (`稀土 永磁` in one field, 20 hits).

Run with `BENCH_WORKERS=2` for `techx serve --workers 2`. Prints one JSON object: requests/s,
p50 and p99, statuses and socket errors per case, each after a warm-up and beside a ceiling
measured just before it (`loadgen.beside_ceiling`), with its share of that ceiling.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PASSWORD, report, scratch_database
from loadgen import CONNECTIONS, SECONDS, api, beside_ceiling, ceiling, server_environment, wrk

SEARCH = {"q": "稀土 永磁", "field": "new_materials", "limit": "20"}
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))


def reader(base_url: str) -> tuple[str, str, str]:
    """A signed-in reader's access token, an API key of their organization, and a listing."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        http.post(
            "/v1/users",
            json={"email": "reader@example.cn", "password": PASSWORD, "display_name": "读者"},
        )
        token = http.post(
            "/v1/auth/token", data={"username": "reader@example.cn", "password": PASSWORD}
        ).json()["access_token"]
        person = {"Authorization": f"Bearer {token}"}
        memberships = http.get("/v1/me", headers=person).json()["memberships"]
        if not memberships:  # a first run on this database
            http.post(
                "/v1/organizations",
                json={
                    "kind": "enterprise",
                    "name": "基准读者企业",
                    "credit_code": "91110000600037341L",
                    "division_code": "150203",
                },
                headers=person,
            ).raise_for_status()
            memberships = http.get("/v1/me", headers=person).json()["memberships"]
        key = http.post(
            "/v1/api-keys",
            json={
                "organization_id": memberships[0]["organization_id"],
                "name": "bench",
                "scopes": ["listings:read"],
            },
            headers=person,
        ).json()["key"]
        hits = http.get("/v1/search/listings", params=SEARCH).json()["hits"]
        return token, key, hits[0]["listing"]["id"]


def _measure(url: str) -> dict[str, object]:
    environment = server_environment(url)
    options = ["--demo", "--workers", str(WORKERS)]
    with ceiling(environment) as bare, api(environment, *options) as served:
        token, key, listing_id = reader(served)
        listing = f"/v1/listings/{listing_id}"
        search = "/v1/search/listings?" + urlencode(SEARCH)
        cases: dict[str, tuple[str, list[str]]] = {
            "healthz": ("/healthz", []),
            "me_with_token": ("/v1/me", [token]),
            "listing_with_token": (listing, [token]),
            "listing_with_api_key": (listing, [key]),
            "search": (search, []),
        }
        measured = {
            name: beside_ceiling(bare, partial(wrk, served, [path], tokens=tokens))
            for name, (path, tokens) in cases.items()
        }
    return {
        "load_generator": "wrk -t1",
        "connections": CONNECTIONS,
        "seconds_per_case": SECONDS,
        "api_workers": WORKERS,
        **measured,
    }


def main() -> None:
    with scratch_database() as url:
        figures = _measure(url)
    report("read_requests", figures)


if __name__ == "__main__":
    main()

"""What authenticating costs, measured with wrk (C, one thread, 50 connections) against
`techx serve`, beside the bare FastAPI endpoint in the same run:

- `GET /v1/me` with an access token and `GET /v1/listings/{id}` with an API key, once with the
  process keeping verified callers (the default, `PRINCIPAL_CACHE_SECONDS=5`) and once without
  (`0`: every request verifies the token's signature or the key's hash and reads the caller),
- a password sign-in (`POST /v1/auth/token`: argon2, by design the slow one).

Prints one JSON object: requests/s, p50 and p99, statuses and each case's share of the ceiling
measured beside it, after a warm-up (`loadgen.beside_ceiling`).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PASSWORD, report, scratch_database
from loadgen import CONNECTIONS, SECONDS, api, beside_ceiling, ceiling, server_environment, wrk
from read_requests import reader


def _measure(url: str) -> dict[str, object]:
    cases: dict[str, dict[str, object]] = {}
    with ceiling(server_environment(url)) as bare:
        for name, seconds in (("kept", "5"), ("verified_each_time", "0")):
            environment = server_environment(url, PRINCIPAL_CACHE_SECONDS=seconds)
            with api(environment, "--demo", "--workers", "1") as served:
                token, key, listing_id = reader(served)
                cases[f"me_with_token_{name}"] = beside_ceiling(
                    bare, partial(wrk, served, ["/v1/me"], tokens=[token])
                )
                cases[f"listing_with_api_key_{name}"] = beside_ceiling(
                    bare, partial(wrk, served, [f"/v1/listings/{listing_id}"], tokens=[key])
                )
                if name == "kept":
                    sign_in = {"username": "reader@example.cn", "password": PASSWORD}
                    cases["password_sign_in"] = beside_ceiling(
                        bare, partial(wrk, served, ["/v1/auth/token"], method="POST", form=sign_in)
                    )
    return {
        "load_generator": "wrk -t1",
        "connections": CONNECTIONS,
        "seconds_per_case": SECONDS,
        **cases,
    }


def main() -> None:
    with scratch_database() as url:
        figures = _measure(url)
    report("auth_requests", figures)


if __name__ == "__main__":
    main()

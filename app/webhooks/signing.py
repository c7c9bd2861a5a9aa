"""Signing webhook deliveries: `Techx-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`.

Each `v1` is the hex HMAC-SHA256 of `"<t>.<body>"` under one of the endpoint's active secrets
(two while a rotation is under way). The timestamp is signed too, so a captured delivery cannot
be replayed later than the receiver's tolerance. `verify` is what a receiver runs; the README
shows it standalone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

HEADER = "Techx-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, active_secrets: Sequence[str], timestamp: int) -> str:
    return ",".join(
        [f"t={timestamp}", *(f"v1={sign(body, secret, timestamp)}" for secret in active_secrets)]
    )


def verify(
    header: str, body: bytes, secret: str, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether a delivery was signed with `secret` within `tolerance` seconds of `now`."""
    parts = [part.partition("=") for part in header.split(",")]
    timestamps = [value for name, _, value in parts if name == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(body, secret, timestamp)
    return any(hmac.compare_digest(expected, value) for name, _, value in parts if name == "v1")

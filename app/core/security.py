"""Secrets: password hashes, signed access tokens, opaque refresh tokens and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps an unknown email as slow as a wrong password (no user probing).
_DUMMY_HASH = _hasher.hash("not-a-real-password")

API_KEY_PREFIX = "tx_"
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "techexchange"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; runs the full hash even when there is no user."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime
    family_id: uuid.UUID | None
    """The sign-in (refresh-token family) it came from: signing out or a replayed refresh
    token revokes the family, and its access tokens with it."""
    second_factor: bool = False
    """Whether that sign-in proved a second factor (`amr` holds `otp`, RFC 8176)."""


def issue_access_token(
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    scopes: frozenset[str],
    now: datetime,
    ttl: timedelta,
    key: str,
    second_factor: bool = False,
) -> str:
    claims = {
        "sub": str(user_id),
        "sid": str(family_id),
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "scope": " ".join(sorted(scopes)),
        # How the sign-in authenticated (RFC 8176 method values): a password, and a one-time
        # code when a second factor was proved.
        "amr": ["pwd", "otp"] if second_factor else ["pwd"],
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def read_access_token(token: str, *, now: datetime, key: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token, or None."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            # Times are checked against our clock, not the machine's (PyJWT would use the latter).
            options={
                "require": ["sub", "exp", "iat", "typ"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        if (
            claims.get("typ") != "access"
            or int(claims["exp"]) <= int(now.timestamp())
            or int(claims["iat"]) > int(now.timestamp()) + 60
        ):
            return None
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo),
            family_id=uuid.UUID(claims["sid"]) if "sid" in claims else None,
            second_factor="otp" in (claims.get("amr") or ()),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key): safe to store, fast to look up.

    Passwords get argon2 because people choose them; these are 256 random bits, which no
    slow hash would make stronger.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(stored: str, secret: str) -> bool:
    return hmac.compare_digest(stored, digest(secret))


def new_api_key() -> tuple[str, str]:
    """A new API key and its public prefix (`tx_` + 8 characters, shown in listings)."""
    public = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}", f"{API_KEY_PREFIX}{public}"


def api_key_prefix(key: str) -> str | None:
    """The prefix a presented API key claims, or None when it is not shaped like one."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    parts = key.split("_", 2)
    if len(parts) != 3 or len(parts[1]) != 8 or not parts[2]:
        return None
    return f"{API_KEY_PREFIX}{parts[1]}"

"""Secrets the platform must read back, sealed at rest.

A TOTP factor's shared secret cannot be stored as a hash (the server computes codes from it),
so it is sealed: Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived
with HKDF-SHA256 from the deployment's `SECRET_KEY` and a purpose, so a copy of the database
alone (a backup, a replica, a dump handed to support) holds no usable secret, and keys for
different purposes never coincide. Rotating `SECRET_KEY` makes what was sealed unreadable:
staff then enrol their factors anew (an admin resets them).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unreadable(Exception):
    """A sealed value this key cannot open (sealed under another `SECRET_KEY`, or altered)."""


class Sealer:
    """Seals and opens short secrets for one purpose."""

    def __init__(self, key_material: str, purpose: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"techexchange:{purpose}".encode(),
        ).derive(key_material.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret inside `sealed`. Raises Unreadable."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise Unreadable() from error

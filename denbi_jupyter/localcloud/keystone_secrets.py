"""Salted, slow hashes for the passwords and application-credential secrets Keystone keeps."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_secret", "verify_secret"]

_ALGORITHM = "pbkdf2_sha256"
_ITERATIONS = 60_000


def hash_secret(secret: str, *, iterations: int = _ITERATIONS) -> str:
    """Hash ``secret`` with PBKDF2-SHA256 and a random salt (``algo$iterations$salt$hash``)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"{_ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` matches the ``stored`` hash (constant-time comparison)."""
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    if algorithm != _ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt_bytes, rounds)
    return hmac.compare_digest(digest.hex(), expected)

"""Account secrets: random, shown once, kept only as a salted PBKDF2-SHA512 hash.

The hash has the form Mosquitto's dynamic-security plugin stores (base64 hash and salt, an
iteration count), so the registry can write the broker's account file itself, and an HTTP
authentication backend can check a password without the broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SECRET_BYTES = 32
SALT_BYTES = 12
# The secret is 256 random bits: nothing to guess, so iterations add only CONNECT latency.
# This is the count Mosquitto's own tools use.
ITERATIONS = 101
_HASH_BYTES = 64


@dataclass(frozen=True, slots=True)
class SecretHash:
    """A PBKDF2-SHA512 hash of a secret with its salt and iteration count (base64 text)."""

    hash_b64: str
    salt_b64: str
    iterations: int

    def encode(self) -> str:
        """One string for a database column."""
        return f"pbkdf2-sha512${self.iterations}${self.salt_b64}${self.hash_b64}"

    @classmethod
    def decode(cls, text: str) -> SecretHash:
        """Read back what `encode` wrote."""
        scheme, iterations, salt, digest = text.split("$")
        if scheme != "pbkdf2-sha512":
            raise ValueError(f"unknown secret hash scheme {scheme!r}")
        return cls(digest, salt, int(iterations))

    def matches(self, secret: str) -> bool:
        """Whether `secret` is the one hashed here (constant-time comparison)."""
        computed = _pbkdf2(secret, base64.b64decode(self.salt_b64), self.iterations)
        return hmac.compare_digest(computed, self.hash_b64)


def _pbkdf2(secret: str, salt: bytes, iterations: int) -> str:
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, _HASH_BYTES)
    return base64.b64encode(digest).decode()


def new_secret() -> str:
    """A fresh random secret, URL-safe text."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str, iterations: int = ITERATIONS) -> SecretHash:
    """A salted hash of `secret`."""
    salt = secrets.token_bytes(SALT_BYTES)
    return SecretHash(
        _pbkdf2(secret, salt, iterations), base64.b64encode(salt).decode(), iterations
    )

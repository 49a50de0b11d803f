"""API keys: high-entropy secrets stored only as SHA-256 hashes in SQLite, one tenant and role each.

A key reads `shk_<id>_<secret>`. The id is public (it names the key in lists and logs); the
secret is 32 random bytes and never stored. Because the secret is random rather than chosen by
a person, a fast hash is enough: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dashboard.errors import DashboardError, InvalidRequestError, NotFoundError
from edge.protocol import ProtocolError, check_id
from edge.schema import Schema
from identity.registry import PrivateStore

KEY_PREFIX = "shk"
_ID_BYTES = 6
_SECRET_BYTES = 32
# Compared against when the id is unknown, so that a miss takes as long as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()

# SQLite's side files of a database: the write-ahead log and its shared-memory index.

_V1 = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    sites TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
"""
SCHEMA = Schema("API key store", (_V1,))


class KeyStoreError(DashboardError, InvalidRequestError):
    """A key cannot be created, found or revoked as asked."""


class KeyNotFoundError(KeyStoreError, NotFoundError):
    """No key of that id (or not of that tenant)."""


class Role(StrEnum):
    """What a key may do; see `dashboard.auth.PERMISSIONS` for the exact matrix."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    RESEARCHER = "researcher"
    # The prefecture's disaster desk: the landslide levels tenants share, nothing of a tenant.
    PREFECTURE = "prefecture"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key without its secret."""

    id: str
    tenant: str
    role: Role
    # Sites a tenant's researcher key may export; empty for other roles (they see the whole
    # tenant) and for a researcher account's keys, whose tenant is the account: they read only
    # through grants (dashboard/grants.py).
    sites: tuple[str, ...]
    name: str
    created_ms: int
    revoked_ms: int | None

    @property
    def active(self) -> bool:
        """Whether the key is still accepted."""
        return self.revoked_ms is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """The (id, secret) of a presented key, or None if it is not shaped like one of ours."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyStore(PrivateStore):
    """The SQLite table of hashed keys; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (creating if needed) the key database at `path`."""
        super().__init__(path, SCHEMA)

    def create(
        self, tenant: str, role: Role, *, name: str = "", sites: Sequence[str] = ()
    ) -> tuple[ApiKey, str]:
        """Create a key; returns it and the full token, which is shown once and never stored."""
        try:
            check_id(tenant, "tenant")
            for site in sites:
                check_id(site, "site")
        except ProtocolError as exc:
            raise KeyStoreError(str(exc)) from exc
        if role is not Role.RESEARCHER and sites:
            raise KeyStoreError("only researcher keys are limited to sites")
        key_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        now = _now_ms()
        key = ApiKey(key_id, tenant, role, tuple(sorted(set(sites))), name, now, None)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (key.id, tenant, role.value, "\n".join(key.sites), name, _hash(secret), now),
            )
        return key, f"{KEY_PREFIX}_{key_id}_{secret}"

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key matching `token`, or None; comparison takes constant time."""
        parts = split_token(token)
        key_id, secret = parts if parts else ("", "")
        with self._lock:
            row = self._db.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        stored = str(row[5]) if row else _DUMMY_HASH
        matches = hmac.compare_digest(stored, _hash(secret))
        if not (row and parts and matches):
            return None
        key = _key(row)
        return key if key.active else None

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        """Every key (of `tenant`, if given), oldest first (in the order made, within one ms)."""
        query = "SELECT * FROM api_keys"
        args: tuple[str, ...] = ()
        if tenant is not None:
            query += " WHERE tenant = ?"
            args = (tenant,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_ms, rowid", args).fetchall()
        return [_key(row) for row in rows]

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, revoked or not."""
        with self._lock:
            row = self._db.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return _key(row) if row else None

    def revoke(self, key_id: str, tenant: str | None = None) -> ApiKey:
        """Revoke a key (of `tenant`, if given); revoking twice is allowed."""
        key = self.get(key_id)
        if key is None or (tenant is not None and key.tenant != tenant):
            raise KeyNotFoundError(f"no key {key_id!r}")
        if key.active:
            with self._lock:
                self._db.execute(
                    "UPDATE api_keys SET revoked_ms = ? WHERE id = ?", (_now_ms(), key_id)
                )
        revoked = self.get(key_id)
        assert revoked is not None
        return revoked


def _key(row: tuple[object, ...]) -> ApiKey:
    key_id, tenant, role, sites, name, _, created, revoked = row[:8]
    return ApiKey(
        str(key_id),
        str(tenant),
        Role(str(role)),
        tuple(s for s in str(sites).split("\n") if s),
        str(name),
        int(created),  # type: ignore[call-overload]
        None if revoked is None else int(revoked),  # type: ignore[call-overload]
    )


def _now_ms() -> int:
    return int(time.time() * 1000)

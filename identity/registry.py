"""The account registry: every device and service account, its hashed secret and its history.

SQLite in the data folder, beside the API keys, mode 0600 with its side files. Secrets are
never stored, only their hash; every change is recorded with who made it and when.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConflictError, NotFoundError
from edge.schema import Schema, migrate
from identity.accounts import Account, AccountKind, ServiceRole
from identity.errors import IdentityError
from identity.secrets import SecretHash

_V1 = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    role TEXT,
    tenant TEXT,
    site TEXT,
    device TEXT,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    rotated_ms INTEGER,
    revoked_ms INTEGER,
    -- Set while the broker has not yet been told of the latest change (see `pending`).
    broker_pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS accounts_by_tenant ON accounts(tenant, site, device);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    username TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
SCHEMA = Schema("device registry", (_V1,))
_COLUMNS = "username, kind, role, tenant, site, device, name, created_ms, rotated_ms, revoked_ms"


class RegistryError(IdentityError):
    """The registry cannot do what was asked; the text says why."""


class AccountExistsError(RegistryError, ConflictError):
    """An active account of that name is registered already."""


class AccountNotFoundError(RegistryError, NotFoundError):
    """No account of that name (or not in that tenant)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One change to an account: who, when, what."""

    at_ms: int
    actor: str
    action: str
    username: str
    detail: str


def open_private_database(path: Path) -> sqlite3.Connection:
    """An SQLite database in WAL mode whose file and side files only the owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's
    # own mode, so they are private from the start. A umask around the connect would be
    # process-wide, racing every other thread that creates files.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")
    # Side files that already existed keep their mode: tighten any left readable by others.
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)
    return db


class PrivateStore:
    """An SQLite file only its owner can read, at `schema`'s version, one connection shared
    by threads under a lock (the key store, the grant store and the device registry)."""

    def __init__(self, path: Path, schema: Schema) -> None:
        """Open (creating if needed) the database at `path` and migrate it to `schema`."""
        self.path = path
        self._lock = threading.Lock()
        self._db = open_private_database(path)
        migrate(self._db, schema, path)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _account(row: tuple[object, ...]) -> Account:
    username, kind, role, tenant, site, device, name, created, rotated, revoked = row
    return Account(
        str(username),
        AccountKind(str(kind)),
        None if role is None else ServiceRole(str(role)),
        None if tenant is None else str(tenant),
        None if site is None else str(site),
        None if device is None else str(device),
        str(name),
        int(created),  # type: ignore[call-overload]
        None if rotated is None else int(rotated),  # type: ignore[call-overload]
        None if revoked is None else int(revoked),  # type: ignore[call-overload]
    )


class Registry(PrivateStore):
    """The accounts table; safe to share between threads and with other processes."""

    def __init__(self, path: Path) -> None:
        """Open (creating if needed) the registry at `path`."""
        super().__init__(path, SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _event(
        self, db: sqlite3.Connection, actor: str, action: str, user: str, detail: str
    ) -> None:
        db.execute(
            "INSERT INTO events(at_ms, actor, action, username, detail) VALUES (?, ?, ?, ?, ?)",
            (_now_ms(), actor, action, user, detail),
        )

    def add(self, account: Account, secret: SecretHash, *, actor: str, pending: bool) -> Account:
        """Register `account`; a revoked account of the same name is registered anew."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT revoked_ms FROM accounts WHERE username = ?", (account.username,)
            ).fetchone()
            if row is not None and row[0] is None:
                raise AccountExistsError(f"{account.username} is registered already")
            db.execute("DELETE FROM accounts WHERE username = ?", (account.username,))
            db.execute(
                f"INSERT INTO accounts({_COLUMNS}, secret_hash, broker_pending)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                (
                    account.username,
                    account.kind.value,
                    None if account.role is None else account.role.value,
                    account.tenant,
                    account.site,
                    account.device,
                    account.name,
                    account.created_ms,
                    secret.encode(),
                    int(pending),
                ),
            )
            self._event(db, actor, "add", account.username, account.name)
        return account

    def get(self, username: str) -> Account | None:
        """The account of that name, revoked or not."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM accounts WHERE username = ?", (username,)
            ).fetchone()
        return _account(row) if row else None

    def secret_hash(self, username: str) -> SecretHash | None:
        """The stored hash of an active account's secret."""
        with self._lock:
            row = self._db.execute(
                "SELECT secret_hash FROM accounts WHERE username = ? AND revoked_ms IS NULL",
                (username,),
            ).fetchone()
        return SecretHash.decode(str(row[0])) if row else None

    def list(self, *, tenant: str | None = None, kind: AccountKind | None = None) -> list[Account]:
        """Accounts (of `tenant`, of `kind`), oldest first."""
        query = f"SELECT {_COLUMNS} FROM accounts WHERE 1 = 1"
        args: list[object] = []
        if tenant is not None:
            query += " AND tenant = ?"
            args.append(tenant)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind.value)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_ms, username", args).fetchall()
        return [_account(row) for row in rows]

    def revoke(self, username: str, *, actor: str) -> Account:
        """Mark an account revoked (again is allowed); the broker change is pending until done."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT revoked_ms FROM accounts WHERE username = ?", (username,)
            ).fetchone()
            if row is None:
                raise AccountNotFoundError(f"no account {username!r}")
            if row[0] is None:
                db.execute(
                    "UPDATE accounts SET revoked_ms = ?, broker_pending = 1 WHERE username = ?",
                    (_now_ms(), username),
                )
                self._event(db, actor, "revoke", username, "")
        found = self.get(username)
        assert found is not None
        return found

    def rotate(self, username: str, secret: SecretHash, *, actor: str) -> Account:
        """Replace an active account's secret hash."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE accounts SET secret_hash = ?, rotated_ms = ?, broker_pending = 1"
                " WHERE username = ? AND revoked_ms IS NULL",
                (secret.encode(), _now_ms(), username),
            )
            if cursor.rowcount == 0:
                raise AccountNotFoundError(f"no active account {username!r}")
            self._event(db, actor, "rotate", username, "")
        found = self.get(username)
        assert found is not None
        return found

    def set_pending(self, username: str, pending: bool) -> None:
        """Record whether the broker still has to be told of this account's latest change."""
        with self._transaction() as db:
            db.execute(
                "UPDATE accounts SET broker_pending = ? WHERE username = ?",
                (int(pending), username),
            )

    def pending(self) -> list[Account]:
        """Accounts whose latest change the broker may not know of."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM accounts WHERE broker_pending = 1 ORDER BY username"
            ).fetchall()
        return [_account(row) for row in rows]

    def events(self, username: str | None = None) -> list[Event]:
        """The history (of one account), oldest first."""
        query = "SELECT at_ms, actor, action, username, detail FROM events"
        args: tuple[str, ...] = ()
        if username is not None:
            query += " WHERE username = ?"
            args = (username,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [Event(int(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


def _now_ms() -> int:
    return int(time.time() * 1000)

"""The durable outbox: every notification is committed here before anyone tries to deliver it.

SQLite in WAL mode with `synchronous=FULL`, like the agent's spool: a `kill -9` or a power cut
at any moment leaves each notification either wholly queued or not at all, and a delivery that
was in flight is tried again after a restart with the same idempotency key, so a receiver that
de-duplicates by key sees it once.

Each notification is queued under its idempotency key (queuing the same key again adds
nothing) for one destination (a webhook URL, a mail address, a push subscription). A
destination receives its notifications in the order they were queued: only the oldest pending
one of each destination is due, so a receiver that is down for ten minutes gets everything in
order once it is back. A failed attempt is retried after a backoff; one that fails for good (a
permanent refusal, or too many attempts) becomes a dead letter with its reason and unblocks the
destination's next notification.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from core.errors import ShinshuError
from edge.schema import SchemaVersionError, migrate
from notify.schema import SCHEMA


class OutboxError(ShinshuError):
    """The outbox cannot be opened or written."""


class State(StrEnum):
    """Where a notification is."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification to queue: its idempotency key, channel, destination and payload (JSON)."""

    key: str
    channel: str
    destination: str
    tenant: str
    payload: str
    # Not to be sent before this time (quiet hours); 0: at once.
    not_before_ms: int = 0


@dataclass(frozen=True, slots=True)
class Queued:
    """A queued notification as the outbox keeps it."""

    id: int
    key: str
    channel: str
    destination: str
    tenant: str
    payload: str
    queued_ms: int
    state: State
    attempts: int
    next_ms: int
    last_error: str
    done_ms: int | None


_COLUMNS = (
    "id, key, channel, destination, tenant, payload, queued_ms, state, attempts, next_ms, "
    "last_error, done_ms"
)


def _queued(row: tuple[object, ...]) -> Queued:
    values = list(row)
    values[7] = State(values[7])
    return Queued(*values)  # type: ignore[arg-type]


class Outbox:
    """The queue of notifications in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the outbox at `path`; only its owner may read it (mode 0600)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            migrate(self._db, SCHEMA, path)
        except (sqlite3.Error, SchemaVersionError) as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def enqueue(
        self,
        items: Iterable[Outgoing],
        *,
        now_ms: int,
        cursor: tuple[str, str] | None = None,
    ) -> int:
        """Queue notifications in one transaction; a key already queued is skipped.

        `cursor` (name, value) is moved in the same transaction, so a notifier that reads alerts
        after a position never queues an alert's notifications without also moving past it.
        Returns how many notifications were new.
        """
        rows = [
            (i.key, i.channel, i.destination, i.tenant, i.payload, now_ms, i.not_before_ms)
            for i in items
        ]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox "
                    "(key, channel, destination, tenant, payload, queued_ms, next_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                added = self._db.total_changes - before
                if cursor is not None:
                    self._db.execute(
                        "INSERT INTO cursors (name, value) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        cursor,
                    )
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return added

    def due(self, now_ms: int, limit: int = 100) -> list[Queued]:
        """The oldest pending notification of each destination whose retry time has come."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE id IN ("
                "  SELECT min(id) FROM outbox WHERE state = 'pending' GROUP BY destination"
                ") AND next_ms <= ? ORDER BY id LIMIT ?",
                (now_ms, limit),
            ).fetchall()
        return [_queued(r) for r in rows]

    def next_due_ms(self) -> int | None:
        """When the earliest head of a destination is due (None: nothing is pending)."""
        with self._lock:
            row = self._db.execute(
                "SELECT min(next_ms) FROM outbox WHERE id IN ("
                "  SELECT min(id) FROM outbox WHERE state = 'pending' GROUP BY destination)"
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def delivered(self, item: Queued, *, now_ms: int) -> None:
        """The receiver took it."""
        self._finish(item.id, State.DELIVERED, "", now_ms)

    def failed(self, item: Queued, reason: str, *, now_ms: int, retry_at_ms: int | None) -> None:
        """An attempt failed: try again at `retry_at_ms`, or (None) it is a dead letter now."""
        if retry_at_ms is None:
            self._finish(item.id, State.DEAD, reason, now_ms)
            return
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_ms = ?, last_error = ? "
                "WHERE id = ? AND state = 'pending'",
                (retry_at_ms, reason[:500], item.id),
            )

    def _finish(self, item_id: int, state: State, reason: str, now_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "done_ms = ? WHERE id = ? AND state = 'pending'",
                (state.value, reason[:500], now_ms, item_id),
            )

    def listing(
        self, *, tenant: str | None = None, states: Sequence[State] = (), limit: int = 200
    ) -> list[Queued]:
        """Notifications, newest first, of a tenant and in some states (all by default)."""
        where, args = [], []
        if tenant is not None:
            where.append("tenant = ?")
            args.append(tenant)
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(s.value for s in states)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox {clause} ORDER BY id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_queued(r) for r in rows]

    def counts(self) -> dict[tuple[str, State], int]:
        """How many notifications each channel has in each state (for metrics)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT channel, state, count(*) FROM outbox GROUP BY channel, state"
            ).fetchall()
        return {(channel, State(state)): int(n) for channel, state, n in rows}

    def cursor(self, name: str) -> str | None:
        """A position the notifier keeps beside its queue (e.g. the newest alert it queued)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

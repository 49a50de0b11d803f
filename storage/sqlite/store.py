"""`SqliteStore`: the reading store in one SQLite file (WAL, readable by its owner only).

The same semantics as the InfluxDB store: a point is keyed by (measurement, tags, time), and a
second write of a key replaces the fields it names; a field keeps the type it was first
written with (a point with another type is refused, as InfluxDB refuses it); reads answer a
`Select` as InfluxDB answers its InfluxQL (`storage.sqlite.select`). Several processes (ingest,
alerts, the API) may share the file: SQLite serialises their writes, and reads never wait.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edge.schema import Schema, migrate
from storage.batch import Refusals, WriteBatch
from storage.errors import StoreError, StoreUnavailableError
from storage.points import Point, PointRefused
from storage.protocol import ReadingStore
from storage.query import Rows, Select, SeriesColumns
from storage.sqlite import select as answering
from storage.sqlite.encoding import Row, RowEncoder, refusal

_V1 = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (measurement, tags)
);
-- `value` has no declared type: it keeps what it is given (a float, an integer, a text).
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL REFERENCES series (id),
    time INTEGER NOT NULL,
    value,
    fields TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (series, time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
"""
SCHEMA = Schema("embedded reading store", (_V1,))
# The same key again replaces the fields it names and keeps the others, as in InfluxDB.
_UPSERT = """
INSERT INTO points (series, time, value, fields) VALUES (?, ?, ?, ?)
ON CONFLICT (series, time) DO UPDATE SET
    value = coalesce(excluded.value, points.value),
    fields = CASE WHEN excluded.fields = '{}' THEN points.fields
                  ELSE json_patch(points.fields, excluded.fields) END
"""
_ENCODER = RowEncoder()


class _Connection:
    """One thread's connection, closed when the thread is gone (or the store is closed)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Hold `db`."""
        self.db = db

    def __del__(self) -> None:
        """Close the connection with its last holder."""
        self.db.close()


def _unavailable(exc: sqlite3.Error) -> StoreError:
    """A locked or unreadable file may work later; anything else will not."""
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailableError(f"SQLite: {exc}")
    return StoreError(f"SQLite: {exc}")


class SqliteStore(ReadingStore):
    """Readings, status, assets and alerts in one SQLite file."""

    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        """Open (or create, mode 0600) the file at `path`; a write waits `timeout` s for a lock."""
        self.path = path.expanduser()
        self._timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only; SQLite gives its WAL files the same mode.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self.path.chmod(0o600)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._series_ids: dict[tuple[str, str], int] = {}
        self._types: dict[tuple[str, str], str] = {}
        self._known = answering.Catalogue()
        with self._guard():
            db = self._db()
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db, SCHEMA, self.path)

    def __repr__(self) -> str:
        """The store's file."""
        return f"SqliteStore({str(self.path)!r})"

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are not shared between threads)."""
        held: _Connection | None = getattr(self._local, "held", None)
        if held is None:
            # Used by this thread only; `close` (and the collector) may come from another.
            db = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA synchronous=NORMAL")
            held = self._local.held = _Connection(db)
            self._connections.add(held)
        return held.db

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _unavailable(exc) from exc

    def close(self) -> None:
        """Close every connection the store opened."""
        for held in list(self._connections):
            held.db.close()
        self._local = threading.local()

    def ping(self) -> bool:
        """Whether the file can be read."""
        return self.ready()

    def ready(self) -> bool:
        """Whether the file answers a read."""
        try:
            self._db().execute("SELECT 1 FROM series LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def ensure_database(self) -> None:
        """The tables exist once the store is open: nothing to do."""

    # --- writes ---------------------------------------------------------------------------

    def new_batch(self) -> WriteBatch[Row]:
        """An empty batch, encoded as rows while it is filled."""
        return WriteBatch(_ENCODER)

    def write_batch(self, batch: WriteBatch[Any]) -> Refusals:
        """Store a batch in one transaction; refused rows are left out of it."""
        return batch.refusals(self._write(batch.all_units()))

    def write_points(self, points: Sequence[Point]) -> list[PointRefused]:
        """Store points; the ones refused."""
        return self._write([_ENCODER.point(p) for p in points])

    def _write(self, rows: Sequence[Row]) -> list[PointRefused]:
        if not rows:
            return []
        with self._write_lock, self._guard():
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                refused, taken = self._check(db, rows)
                values = [(self._series_id(db, r), r.time_ms, r.value, r.fields) for r in taken]
                db.executemany(_UPSERT, values)
            except BaseException:
                db.execute("ROLLBACK")
                # Ids and types learnt in the transaction are gone with it.
                self._series_ids.clear()
                self._types.clear()
                raise
            db.execute("COMMIT")
        return refused

    def _check(
        self, db: sqlite3.Connection, rows: Sequence[Row]
    ) -> tuple[list[PointRefused], list[Row]]:
        """The rows refused (bad values, a field type that conflicts) and the rows to write."""
        refused: list[PointRefused] = []
        taken: list[Row] = []
        typed: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        tags_ok: dict[str, bool] = {}
        for index, row in enumerate(rows):
            reason = refusal(row, tags_ok)
            if reason is None and (row.measurement, row.types) not in typed:
                reason = self._conflict(db, row)
                if reason is None:
                    typed.add((row.measurement, row.types))
            if reason is None:
                taken.append(row)
            else:
                refused.append(PointRefused(index, reason))
        return refused, taken

    def _conflict(self, db: sqlite3.Connection, row: Row) -> str | None:
        """Why the row's field types conflict with the stored ones; records new fields."""
        for name, kind in row.types:
            key = (row.measurement, name)
            known = self._types.get(key)
            if known is None:
                db.execute("INSERT OR IGNORE INTO field_types VALUES (?, ?, ?)", (*key, kind))
                (known,) = db.execute(
                    "SELECT type FROM field_types WHERE measurement = ? AND field = ?", key
                ).fetchone()
                self._types[key] = known
            if known != kind:
                return (
                    f'field type conflict: input field "{name}" on measurement '
                    f'"{row.measurement}" is type {kind}, already exists as type {known}'
                )
        return None

    def _series_id(self, db: sqlite3.Connection, row: Row) -> int:
        key = (row.measurement, row.tags)
        found = self._series_ids.get(key)
        if found is None:
            db.execute("INSERT OR IGNORE INTO series (measurement, tags) VALUES (?, ?)", key)
            (found,) = db.execute(
                "SELECT id FROM series WHERE measurement = ? AND tags = ?", key
            ).fetchone()
            self._series_ids[key] = found
        return found

    # --- reads ----------------------------------------------------------------------------

    def rows(self, select: Select) -> list[Rows]:
        """The answer of one read."""
        with self._guard():
            return answering.rows(self._db(), self._known, select)

    def rows_each(self, selects: Sequence[Select]) -> list[list[Rows]]:
        """The answers of several reads, from one snapshot of the file."""
        with self._guard():
            db = self._db()
            db.execute("BEGIN")
            try:
                return [answering.rows(db, self._known, s) for s in selects]
            finally:
                db.execute("COMMIT")

    def columns(self, select: Select) -> list[SeriesColumns]:
        """The answer of a read of one numeric field, as arrays."""
        with self._guard():
            return answering.columns(self._db(), self._known, select)

    def count_points(self) -> int:
        """How many points have a `value` (the readings)."""
        with self._guard():
            (count,) = self._db().execute("SELECT count(value) FROM points").fetchone()
        return int(count)

"""Store-and-forward spool: SQLite in WAL mode with `synchronous=FULL`.

Every reading is committed (and fsynced) here before anything is published; a batch leaves
only when the broker acknowledged it. SQLite's journal makes a `kill -9` or a power cut at any
moment safe: a transaction is either wholly on disk or not at all.

Batches are numbered when they are first claimed, and the number is committed with the batch's
range of readings. A batch that was sent but not acknowledged before a crash or a lost
connection is re-sent with the same number and the same readings (minus any the cap dropped
meanwhile), so ingest sees a duplicate rather than a gap.

With stored receipts (the default), a batch the broker acknowledged stays until ingest says it
is stored: the broker's PUBACK only marks it delivered. A broker that crashes before writing
its queue to disk loses what it acknowledged; the agent then sends those batches again.

Overflow policy (drop oldest): the spool's size is the sum of its readings' sizes, each counted
as `ROW_OVERHEAD` plus its kind and sensor id in bytes. When a new reading would take the spool
over its cap, the oldest readings are deleted, in the same transaction that adds the new ones,
and counted in a persisted `dropped` counter. Readings in flight on the current connection are
exempt (pinned) and come on top of the cap (at most the in-flight window), so a dropped reading
is one that will never reach the broker. Readings of delivered batches that the cap deletes
before their receipt came are counted apart, as `released`: the broker has them, and they are
lost only if it loses them too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.protocol import Reading, SensorKind
from edge.schema import Schema, SchemaVersionError, migrate

# Bytes a reading is counted as besides its text: rowid, timestamp, value, frame and
# SQLite's record header; close to what a row takes on disk.
ROW_OVERHEAD = 40
# Frame 0 holds readings stamped by a synchronised clock; others an unsynced agent run's.
SYNCED_FRAME = 0

_V1 = """
-- AUTOINCREMENT: an id is never reused, even after the table emptied, so "after id N" holds.
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    sensor TEXT NOT NULL,
    value REAL NOT NULL,
    frame INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    frame INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
SCHEMA = Schema("edge spool", (_V1,))
_UPSERT_META = (
    "INSERT INTO meta(key, value) VALUES (?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


class SpoolError(EdgeError):
    """The spool file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """A numbered batch of spooled readings, all of one clock frame."""

    seq: int
    first_id: int
    last_id: int
    frame: int
    readings: tuple[Reading, ...]


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What the status message reports about the spool."""

    readings: int
    bytes: int
    dropped: int
    unacked_batches: int
    # Delivered to the broker but deleted by the cap before ingest confirmed them.
    released: int = 0


def row_size(kind: str, sensor: str) -> int:
    """Bytes a reading counts for against the cap."""
    return ROW_OVERHEAD + len(kind) + len(sensor.encode())


class Spool:
    """The SQLite spool; one connection shared by the agent's threads under a lock."""

    def __init__(self, path: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        """Open (or create) the spool at `path` with a byte cap."""
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # Unsynced frames already moved to UTC, with their offset: late arrivals follow them.
        self._rebased: dict[int, int] = {}
        # Id ranges of batches in flight on the current connection: never dropped (see pin).
        self._pinned: dict[int, tuple[int, int]] = {}
        # Id ranges of batches the broker acknowledged, awaiting ingest's receipt.
        self._delivered: dict[int, tuple[int, int]] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives a power cut, not only a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            migrate(self._db, SCHEMA, path)
            self._bytes, self._count = self._db.execute(
                "SELECT COALESCE(SUM(? + length(kind) + length(CAST(sensor AS BLOB))), 0),"
                " COUNT(*) FROM readings",
                (ROW_OVERHEAD,),
            ).fetchall()[0]
        except (sqlite3.Error, SchemaVersionError) as exc:
            raise SpoolError(f"cannot open the spool {path}: {exc}") from exc

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _meta(self, key: str, default: int = 0) -> int:
        """A persisted counter (caller holds the lock)."""
        rows = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchall()
        return int(rows[0][0]) if rows else default

    def _set_meta(self, key: str, value: int) -> None:
        """Set a persisted counter inside the caller's transaction."""
        self._db.execute(_UPSERT_META, (key, value))

    def _write(self, sql_work: Iterable[tuple[str, tuple[object, ...]]]) -> None:
        """Run statements in one committed transaction (caller holds the lock)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, args in sql_work:
                self._db.execute(sql, args)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise SpoolError(f"spool write failed: {exc}") from exc

    def next_frame(self) -> int:
        """A new clock-frame id for an agent run that starts unsynchronised (persisted)."""
        with self._lock:
            frame = self._meta("frame") + 1
            self._write([(_UPSERT_META, ("frame", frame))])
            return frame

    def append(self, readings: list[Reading], frame: int) -> int:
        """Commit readings to disk, dropping the oldest beyond the cap; returns how many dropped."""
        if not readings:
            return 0
        with self._lock:
            shift = self._rebased.get(frame)
            if shift is not None:
                # Sampled just before the clock synced, spooled just after.
                readings = [r._replace(ts_ms=r.ts_ms + shift) for r in readings]
                frame = SYNCED_FRAME
            rows = [(r.ts_ms, r.kind.value, r.sensor, r.value, frame) for r in readings]
            added = sum(row_size(kind, sensor) for _, kind, sensor, _, _ in rows)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO readings(ts, kind, sensor, value, frame) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                dropped, freed = 0, 0
                excess = self._bytes + added - self.max_bytes
                if excess > 0 and self._pinned:
                    # In-flight readings (at most the window) come on top of the cap.
                    excess -= self._pinned_bytes()
                if excess > 0:
                    dropped, released, freed = self._drop_oldest(excess)
                    self._set_meta("dropped", self._meta("dropped") + dropped)
                    if released:
                        self._set_meta("released", self._meta("released") + released)
                    dropped += released
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise SpoolError(f"spool write failed: {exc}") from exc
            self._bytes += added - freed
            self._count += len(rows) - dropped
            return dropped

    def _drop_oldest(self, excess: int) -> tuple[int, int, int]:
        """Delete the oldest unpinned readings until `excess` bytes are freed.

        Returns (dropped, released, bytes): released readings were delivered to the broker.
        """
        pinned = sorted(self._pinned.values())
        delivered = sorted(self._delivered.values())
        ids: list[int] = []
        released = 0
        freed = 0
        cursor = self._db.execute(
            "SELECT id, ? + length(kind) + length(CAST(sensor AS BLOB)) FROM readings ORDER BY id",
            (ROW_OVERHEAD,),
        )
        for row_id, size in cursor:
            if any(first <= row_id <= last for first, last in pinned):
                continue
            ids.append(row_id)
            if delivered and any(first <= row_id <= last for first, last in delivered):
                released += 1
            freed += size
            if freed >= excess:
                break
        cursor.close()
        if ids:
            self._db.executemany("DELETE FROM readings WHERE id = ?", [(i,) for i in ids])
            # A batch whose readings are all gone can never be sent again.
            self._db.execute(
                "DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM readings"
                " WHERE readings.id BETWEEN batches.first_id AND batches.last_id)"
            )
        return len(ids) - released, released, freed

    def _pinned_bytes(self) -> int:
        """Bytes of the readings in flight (caller holds the lock)."""
        total = 0
        for first, last in self._pinned.values():
            total += self._db.execute(
                "SELECT COALESCE(SUM(? + length(kind) + length(CAST(sensor AS BLOB))), 0)"
                " FROM readings WHERE id BETWEEN ? AND ?",
                (ROW_OVERHEAD, first, last),
            ).fetchall()[0][0]
        return int(total)

    def unpin_all(self) -> None:
        """The connection is gone: batches not acknowledged are ordinary spooled readings again."""
        with self._lock:
            self._pinned.clear()
            self._delivered.clear()

    def delivered(self, seq: int) -> bool:
        """The broker acknowledged batch `seq`: it waits for its receipt, no longer in flight.

        False if the batch is not in flight (already acknowledged, or from a lost connection).
        """
        with self._lock:
            span = self._pinned.pop(seq, None)
            if span is not None:
                self._delivered[seq] = span
            return span is not None

    def rebase(self, frame: int, offset_ms: int) -> int:
        """Shift unsent readings of an unsynced `frame` by `offset_ms` into the synced frame.

        Readings of that frame appended later are shifted on the way in.
        """
        with self._lock:
            self._rebased[frame] = offset_ms
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "UPDATE readings SET ts = ts + ?, frame = ? WHERE frame = ?"
                " AND id > (SELECT COALESCE(MAX(last_id), 0) FROM batches)",
                (offset_ms, SYNCED_FRAME, frame),
            )
            self._db.execute("COMMIT")
            return cur.rowcount

    def unacked(self) -> list[SpooledBatch]:
        """Batches claimed earlier and never acknowledged, oldest first, with their readings."""
        with self._lock:
            batches = self._db.execute(
                "SELECT seq, first_id, last_id, frame FROM batches ORDER BY seq"
            ).fetchall()
            return [
                SpooledBatch(seq, first, last, frame, self._rows(first, last, frame))
                for seq, first, last, frame in batches
            ]

    def unacked_seqs(self) -> list[int]:
        """Numbers of the batches claimed earlier and never acknowledged, oldest first."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT seq FROM batches ORDER BY seq")]

    def resume(self, seq: int) -> SpooledBatch | None:
        """Batch `seq` as it is now, pinned for sending; None (and forgotten) if nothing is left."""
        with self._lock:
            rows = self._db.execute(
                "SELECT first_id, last_id, frame FROM batches WHERE seq = ?", (seq,)
            ).fetchall()
            if not rows:
                return None
            first, last, frame = rows[0]
            readings = self._rows(first, last, frame)
            if not readings:
                self._write([("DELETE FROM batches WHERE seq = ?", (seq,))])
                return None
            self._pinned[seq] = (first, last)
            return SpooledBatch(seq, first, last, frame, readings)

    def _rows(self, first: int, last: int, frame: int) -> tuple[Reading, ...]:
        """The readings of one batch range still in the spool (caller holds the lock)."""
        rows = self._db.execute(
            "SELECT sensor, kind, ts, value FROM readings"
            " WHERE id BETWEEN ? AND ? AND frame = ? ORDER BY id",
            (first, last, frame),
        )
        return tuple(Reading(s, SensorKind(k), t, v) for s, k, t, v in rows)

    def claim(
        self, after_id: int, max_readings: int, max_bytes: int, *, pin: bool = False
    ) -> SpooledBatch | None:
        """Number and record the next batch of readings after `after_id`; None if none waits.

        A batch holds readings of one frame only, at most `max_readings` and about `max_bytes`
        on the wire. With `pin`, the batch is marked in flight in the same step: the broker may
        store it any moment, so the cap must not drop its readings (they would be counted as lost
        yet delivered). At most the in-flight window is pinned.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sensor, kind, ts, value, frame FROM readings"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, max_readings),
            ).fetchall()
            if not rows:
                return None
            frame = rows[0][5]
            readings: list[Reading] = []
            size, last_id = 120, after_id
            for row_id, sensor, kind, ts, value, row_frame in rows:
                # An upper bound of a reading's JSON: keys, 13 digits of time, 24 of value, and
                # the sensor id twice over in case every character needs escaping.
                size += 64 + len(kind) + 2 * len(sensor.encode())
                if row_frame != frame or (readings and size > max_bytes):
                    break
                readings.append(Reading(sensor, SensorKind(kind), ts, value))
                last_id = row_id
            first_id = rows[0][0]
            seq = self._meta("seq")
            self._write(
                [
                    (
                        "INSERT INTO batches(seq, first_id, last_id, frame) VALUES (?, ?, ?, ?)",
                        (seq, first_id, last_id, frame),
                    ),
                    (_UPSERT_META, ("seq", seq + 1)),
                ]
            )
            if pin:
                self._pinned[seq] = (first_id, last_id)
            return SpooledBatch(seq, first_id, last_id, frame, tuple(readings))

    def ack(self, seq: int) -> int:
        """Batch `seq` is safe (stored, or taken by the broker): delete it and its readings."""
        with self._lock:
            rows = self._db.execute(
                "SELECT first_id, last_id, frame FROM batches WHERE seq = ?", (seq,)
            ).fetchall()
            if not rows:
                return 0
            first, last, frame = rows[0]
            self._pinned.pop(seq, None)
            self._delivered.pop(seq, None)
            removed = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(? + length(kind) + length(CAST(sensor AS BLOB))), 0)"
                " FROM readings WHERE id BETWEEN ? AND ? AND frame = ?",
                (ROW_OVERHEAD, first, last, frame),
            ).fetchall()[0]
            self._write(
                [
                    (
                        "DELETE FROM readings WHERE id BETWEEN ? AND ? AND frame = ?",
                        (first, last, frame),
                    ),
                    ("DELETE FROM batches WHERE seq = ?", (seq,)),
                ]
            )
            self._count -= removed[0]
            self._bytes -= removed[1]
            return int(removed[0])

    def count_after(self, after_id: int) -> int:
        """How many readings wait after `after_id` (not yet in any batch)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM readings WHERE id > ?", (after_id,))
            return int(row.fetchall()[0][0])

    def last_claimed_id(self) -> int:
        """The highest reading id in any recorded batch (new batches start after it)."""
        with self._lock:
            return int(
                self._db.execute("SELECT COALESCE(MAX(last_id), 0) FROM batches").fetchall()[0][0]
            )

    def stats(self) -> SpoolStats:
        """Depth, bytes, dropped count and unacknowledged batches."""
        with self._lock:
            unacked = self._db.execute("SELECT COUNT(*) FROM batches").fetchall()[0][0]
            return SpoolStats(
                self._count,
                self._bytes,
                self._meta("dropped"),
                int(unacked),
                self._meta("released"),
            )

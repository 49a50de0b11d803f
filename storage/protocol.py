"""`ReadingStore`: what every store (InfluxDB, SQLite) offers the services above it.

Writes take typed readings and status (`WriteBatch`) or points, and give back what was refused,
typed; reads take a typed `Select` and give back typed rows or columns. The read models
(`storage.readings`, `storage.series`, `storage.alerts`, `storage.assets`, `storage.weather`)
are built on these alone, so they work on either store; nothing above storage sees line
protocol, InfluxQL or SQL.

A store raises `StoreUnavailableError` when a write or read may work if retried later and
`StoreError` when no retry will help; `DatabaseNotFoundError` means nothing is stored yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from edge.protocol import DeviceTopic, Reading
from storage.batch import ChannelReadings, ReadingRefused, Refusals, WriteBatch
from storage.points import Point, PointRefused
from storage.query import Rows, Select, SeriesColumns


class ReadingStore(Protocol):
    """The store of readings, status, assets and alerts."""

    def ping(self) -> bool:
        """Whether the store answers at all."""
        ...

    def ready(self) -> bool:
        """Whether the store answers reads (a store with nothing in it yet is ready)."""
        ...

    def ensure_database(self) -> None:
        """Create what the store needs to take writes, if it can (a no-op when it exists)."""
        ...

    def new_batch(self) -> WriteBatch[Any]:
        """An empty batch, encoding for this store."""
        ...

    def write_batch(self, batch: WriteBatch[Any]) -> Refusals:
        """Store a batch; what it refused (never retried). Raises StoreUnavailableError when
        nothing can be known to be stored: the caller retries the whole batch."""
        ...

    def write_points(self, points: Sequence[Point]) -> list[PointRefused]:
        """Store points; the ones refused, by position in `points`."""
        ...

    def rows(self, select: Select) -> list[Rows]:
        """The answer of one read."""
        ...

    def rows_each(self, selects: Sequence[Select]) -> list[list[Rows]]:
        """The answers of several reads, in their order (one request where the store can)."""
        ...

    def columns(self, select: Select) -> list[SeriesColumns]:
        """The answer of a read of one numeric field, each group as arrays."""
        ...

    def count_points(self) -> int:
        """How many readings (points with a `value`) the store holds."""
        ...

    def write_readings(
        self, topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int = 0, missing: int = 0
    ) -> list[ReadingRefused]:
        """Store one device's readings (flags as `WriteBatch.add_readings`); the refused ones."""
        batch = self.new_batch()
        batch.add_readings(topic, readings, shift_ms, missing)
        return self.write_batch(batch).readings

    def write_channel(self, channel: ChannelReadings) -> list[ReadingRefused]:
        """Store many readings of one sensor channel; the ones refused (group 0)."""
        batch = self.new_batch()
        batch.add_channel(channel)
        return self.write_batch(batch).readings

"""Encoders that turn batches of export rows into CSV or Parquet bytes, one batch at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from dashboard.queries import ExportBatch, SeriesKey

CSV_COLUMNS = ("time", "timestamp_ms", "kind", "unit", "site", "device", "sensor", "value")
COLUMN_DOCS = {
    "time": "reading time, ISO 8601 UTC with milliseconds",
    "timestamp_ms": "the same time in milliseconds since 1970-01-01 UTC",
    "kind": "sensor kind from the catalogue",
    "unit": "canonical unit of the kind",
    "site": "site id",
    "device": "device id",
    "sensor": "sensor id on the device",
    "value": "the reading, in `unit`",
}


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _csv_prefix(key: SeriesKey) -> str:
    """The CSV fields of a series after the time columns, quoted as needed, ending in a comma."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(
        [key.kind.value, key.kind.unit.value, key.site, key.device, key.sensor, ""]
    )
    return buffer.getvalue()


def csv_chunks(batches: Iterable[ExportBatch]) -> Iterator[bytes]:
    """A header line, then one chunk of CSV per batch."""
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    for batch in batches:
        prefixes = [_csv_prefix(key) for key in batch.series]
        # Series in a window share their sampling grid: format each time once.
        times = {t: f"{_iso(t)},{t}," for t in {row[0] for row in batch.rows}}
        lines = [f"{times[t]}{prefixes[i]}{v!r}\n" for t, i, v in batch.rows]
        yield "".join(lines).encode()


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        """Everything written since the last call."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_chunks(batches: Iterable[ExportBatch]) -> Iterator[bytes]:
    """A Parquet file, one row group per batch, streamed as each group is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("time", pa.timestamp("ms", tz="UTC")),
            ("kind", pa.string()),
            ("unit", pa.string()),
            ("site", pa.string()),
            ("device", pa.string()),
            ("sensor", pa.string()),
            ("value", pa.float64()),
        ]
    )
    pool = pa.default_memory_pool()
    sink = _Drain()
    with pq.ParquetWriter(sink, schema, compression="snappy") as writer:
        for batch in batches:
            index = pa.array([row[1] for row in batch.rows], pa.int32())

            def column(values: list[str], index: Any = index) -> Any:
                # Each series' text is stored once per batch and picked by index.
                return pa.DictionaryArray.from_arrays(index, pa.array(values)).cast(pa.string())

            keys = batch.series
            columns = [
                pa.array([row[0] for row in batch.rows], pa.timestamp("ms", tz="UTC")),
                column([k.kind.value for k in keys]),
                column([k.kind.unit.value for k in keys]),
                column([k.site for k in keys]),
                column([k.device for k in keys]),
                column([k.sensor for k in keys]),
                pa.array([row[2] for row in batch.rows], pa.float64()),
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            del columns
            # Arrow's allocator keeps freed blocks for reuse; hand them back so RSS stays flat.
            pool.release_unused()
            yield sink.take()
    yield sink.take()


_DONE = object()


def prefetch(batches: Iterator[ExportBatch], depth: int = 1) -> Iterator[ExportBatch]:
    """Fetch the next batch in a thread while the current one is encoded.

    The store and the encoder then use both cores; at most `depth` + 2 batches are in memory.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put(exc)

    thread = threading.Thread(target=produce, name="export-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()

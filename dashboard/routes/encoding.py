"""Encoders that turn batches of export rows into CSV or Parquet bytes, one batch at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from core.time import iso_utc
from storage.readings import ExportBatch, SeriesKey

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
        times, position = np.unique(batch.times, return_inverse=True)
        stamps = [f"{iso_utc(t, 'milliseconds')},{t}," for t in times.tolist()]
        # Each line is four pieces laid side by side; `map` builds each column without a
        # Python-level step per row, which matters at a million rows.
        rows = len(batch)
        pieces: list[str] = [""] * (4 * rows)
        pieces[0::4] = map(stamps.__getitem__, position.tolist())
        pieces[1::4] = map(prefixes.__getitem__, batch.index.tolist())
        pieces[2::4] = map(float.__repr__, batch.values.tolist())
        pieces[3::4] = ["\n"] * rows
        yield "".join(pieces).encode()


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
            index = pa.array(batch.index, pa.int32())

            def column(values: list[str], index: Any = index) -> Any:
                # Each series' text is stored once per batch and picked by index.
                return pa.DictionaryArray.from_arrays(index, pa.array(values)).cast(pa.string())

            keys = batch.series
            columns = [
                pa.array(batch.times, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                column([k.kind.value for k in keys]),
                column([k.kind.unit.value for k in keys]),
                column([k.site for k in keys]),
                column([k.device for k in keys]),
                column([k.sensor for k in keys]),
                pa.array(batch.values, pa.float64()),
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            del columns
            # Arrow's allocator keeps freed blocks for reuse; hand them back so RSS stays flat.
            pool.release_unused()
            yield sink.take()
    yield sink.take()

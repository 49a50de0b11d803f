"""Encoders that turn windows of export rows into CSV or Parquet bytes, one window at a time.

The first eight columns are the export's original ones, in their original places; the
provenance columns follow them, so that a reader of the older files still finds every column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from core.time import iso_utc
from storage.export.provenance import Place, ProvenanceBatch
from storage.readings import SeriesKey

CSV_COLUMNS = (
    "time",
    "timestamp_ms",
    "kind",
    "unit",
    "site",
    "device",
    "sensor",
    "value",
    "clock_corrected",
    "sequence_gap",
    "gap_before_s",
    "latitude",
    "longitude",
    "elevation_m",
)
COLUMN_DOCS = {
    "time": "reading time, ISO 8601 UTC with milliseconds",
    "timestamp_ms": "the same time in milliseconds since 1970-01-01 UTC",
    "kind": "sensor kind from the catalogue",
    "unit": "canonical unit of the kind",
    "site": "site id",
    "device": "device id",
    "sensor": "sensor id on the device",
    "value": "the reading, in `unit`",
    "clock_corrected": "true if ingest shifted the reading's time to correct the device clock",
    "sequence_gap": "true if the reading came in a batch that followed missing batch numbers "
    "of its device (false for readings stored before ingest recorded this)",
    "gap_before_s": "seconds since the previous reading of the series, when more than "
    "3 times the series' median interval; empty otherwise",
    "latitude": "site latitude, WGS 84 degrees; empty if the site is not registered",
    "longitude": "site longitude, WGS 84 degrees; empty if the site is not registered",
    "elevation_m": "site elevation above sea level, metres; empty if not registered",
}
# The flag fields of a row by (clock_corrected, sequence_gap), each ending before gap_before_s.
_FLAGS = (",false,false,", ",false,true,", ",true,false,", ",true,true,")


def _csv_prefix(key: SeriesKey) -> str:
    """The CSV fields of a series after the time columns, quoted as needed, ending in a comma."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(
        [key.kind.value, key.kind.unit.value, key.site, key.device, key.sensor, ""]
    )
    return buffer.getvalue()


def _csv_suffix(place: Place | None) -> str:
    """The coordinate fields of a series, after gap_before_s, ending the line."""
    if place is None:
        return ",,,\n"
    return f",{place.latitude!r},{place.longitude!r},{place.elevation_m!r}\n"


def csv_chunks(windows: Iterable[ProvenanceBatch]) -> Iterator[bytes]:
    """A header line, then one chunk of CSV per window."""
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    for window in windows:
        batch = window.batch
        prefixes = [_csv_prefix(key) for key in batch.series]
        suffixes = [_csv_suffix(place) for place in window.places]
        # Series in a window share their sampling grid: format each time once.
        times, position = np.unique(batch.times, return_inverse=True)
        stamps = [f"{iso_utc(t, 'milliseconds')},{t}," for t in times.tolist()]
        codes = batch.clock_corrected.astype(np.int8) * 2 + batch.sequence_gap.astype(np.int8)
        flags = list(map(_FLAGS.__getitem__, codes.tolist()))
        # Gaps are rare: their rows get the seconds written after the flags.
        for row in np.flatnonzero(window.gap_before_ms).tolist():
            flags[row] += repr(int(window.gap_before_ms[row]) / 1000)
        # Each line is five pieces laid side by side; `map` builds each column without a
        # Python-level step per row, which matters at a million rows.
        rows = len(batch)
        pieces: list[str] = [""] * (5 * rows)
        pieces[0::5] = map(stamps.__getitem__, position.tolist())
        pieces[1::5] = map(prefixes.__getitem__, batch.index.tolist())
        pieces[2::5] = map(float.__repr__, batch.values.tolist())
        pieces[3::5] = flags
        pieces[4::5] = map(suffixes.__getitem__, batch.index.tolist())
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


PARQUET_SCHEMA_FIELDS = (
    ("time", "timestamp"),
    ("kind", "string"),
    ("unit", "string"),
    ("site", "string"),
    ("device", "string"),
    ("sensor", "string"),
    ("value", "float64"),
    ("clock_corrected", "bool"),
    ("sequence_gap", "bool"),
    ("gap_before_s", "float64"),
    ("latitude", "float64"),
    ("longitude", "float64"),
    ("elevation_m", "float64"),
)


def _place_column(places: list[Place | None], index: Any, name: str) -> Any:
    """One coordinate per row from its series' place; null where the site is not registered."""
    import pyarrow as pa

    by_series = np.array([np.nan if p is None else getattr(p, name) for p in places], np.float64)
    values = by_series[index]
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def parquet_chunks(windows: Iterable[ProvenanceBatch]) -> Iterator[bytes]:
    """A Parquet file, one row group per window, streamed as each group is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "timestamp": pa.timestamp("ms", tz="UTC"),
        "string": pa.string(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }
    schema = pa.schema([(name, types[kind]) for name, kind in PARQUET_SCHEMA_FIELDS])
    pool = pa.default_memory_pool()
    sink = _Drain()
    with pq.ParquetWriter(sink, schema, compression="snappy") as writer:
        for window in windows:
            batch = window.batch
            index = pa.array(batch.index, pa.int32())

            def column(values: list[str], index: Any = index) -> Any:
                # Each series' text is stored once per batch and picked by index.
                return pa.DictionaryArray.from_arrays(index, pa.array(values)).cast(pa.string())

            keys = batch.series
            gaps = window.gap_before_ms
            columns = [
                pa.array(batch.times, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                column([k.kind.value for k in keys]),
                column([k.kind.unit.value for k in keys]),
                column([k.site for k in keys]),
                column([k.device for k in keys]),
                column([k.sensor for k in keys]),
                pa.array(batch.values, pa.float64()),
                pa.array(batch.clock_corrected, pa.bool_()),
                pa.array(batch.sequence_gap, pa.bool_()),
                pa.array(gaps / 1000, pa.float64(), mask=gaps == 0),
                *(
                    _place_column(window.places, batch.index, name)
                    for name in ("latitude", "longitude", "elevation_m")
                ),
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            del columns
            # Arrow's allocator keeps freed blocks for reuse; hand them back so RSS stays flat.
            pool.release_unused()
            yield sink.take()
    yield sink.take()

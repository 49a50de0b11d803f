"""Query answers of InfluxDB 1.x as columns (numpy arrays) rather than one object per point.

An export reads millions of points; a Python list per point costs more in allocation and garbage
collection than InfluxDB spends finding them. InfluxDB 1.x packs each `[time, value]` row of a
float field with millisecond times as MessagePack `fixarray(2), int64, float64`: 19 bytes in
the same layout, so a series' rows are read straight into arrays once every marker byte is
checked. Any other answer (an error, integer or text values, times in January 1970, JSON from
a server without MessagePack) takes the general path, which gives the same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack
import numpy as np

from storage.query import SeriesColumns

__all__ = [
    "IrregularAnswerError",
    "NotNumericError",
    "SeriesColumns",
    "document_columns",
    "packed_columns",
    "unpack",
]


class IrregularAnswerError(ValueError):
    """The answer is not laid out as the fast path expects; decode it the general way."""


class NotNumericError(ValueError):
    """A selected value is not a number (a text or boolean field)."""


# fixarray(2) marker, int64 marker, big-endian time, float64 marker, big-endian value.
_ROW = np.dtype(
    [("array", "u1"), ("int64", "u1"), ("time", ">i8"), ("float64", "u1"), ("value", ">f8")]
)
_MARKERS = {"array": 0x92, "int64": 0xD3, "float64": 0xCB}


def packed_columns(body: bytes) -> list[SeriesColumns]:
    """The series of a successful MessagePack answer whose rows are all [int64, float64].

    Raises IrregularAnswerError for anything else, including error answers.
    """
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(body), 1))
    unpacker.feed(body)
    out: list[SeriesColumns] = []
    try:
        for _ in range(unpacker.read_map_header()):
            if unpacker.unpack() != "results":
                raise IrregularAnswerError("an answer with more than results")
            for _ in range(unpacker.read_array_header()):
                for _ in range(unpacker.read_map_header()):
                    key = unpacker.unpack()
                    if key == "series":
                        out += [
                            _packed_series(unpacker) for _ in range(unpacker.read_array_header())
                        ]
                    elif key in ("statement_id", "partial"):
                        unpacker.skip()
                    else:
                        raise IrregularAnswerError(f"a result with {key!r}")
    except IrregularAnswerError:
        raise
    except (msgpack.OutOfData, ValueError) as exc:  # not the MessagePack expected
        raise IrregularAnswerError(str(exc)) from exc
    return out


def _packed_series(unpacker: msgpack.Unpacker) -> SeriesColumns:
    fields: dict[str, Any] = {}
    rows = np.zeros(0, _ROW)
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key != "values":
            fields[key] = unpacker.unpack()
            continue
        count = unpacker.read_array_header()
        rows = np.frombuffer(unpacker.read_bytes(count * _ROW.itemsize), _ROW)
        if len(rows) != count or any((rows[f] != m).any() for f, m in _MARKERS.items()):
            raise IrregularAnswerError("rows other than [int64, float64]")
    if len(fields.get("columns", ())) != 2:
        raise IrregularAnswerError("a series of other than two columns")
    return SeriesColumns(
        str(fields.get("name", "")),
        dict(fields.get("tags") or {}),
        rows["time"].astype(np.int64),
        rows["value"].astype(np.float64),
    )


def unpack(body: bytes) -> object:
    """A whole MessagePack answer as Python objects (the general path)."""
    return msgpack.unpackb(body)


def document_columns(results: Sequence[Mapping[str, Any]]) -> list[SeriesColumns]:
    """The series of already decoded `results` (two columns each: time and a number)."""
    out: list[SeriesColumns] = []
    for result in results:
        for series in result.get("series", []):
            values = series.get("values", [])
            if any(len(row) != 2 for row in values):
                raise NotNumericError("a series of other than two columns")
            times = np.fromiter((int(row[0]) for row in values), np.int64, len(values))
            numbers = np.fromiter((_number(row[1]) for row in values), np.float64, len(values))
            out.append(
                SeriesColumns(
                    series.get("name", ""), dict(series.get("tags") or {}), times, numbers
                )
            )
    return out


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotNumericError(f"not a number: {value!r}")
    return float(value)

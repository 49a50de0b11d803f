"""What a read asks of the store, typed: every store answers the same `Select` the same way.

A `Select` names measurements, a tag filter (`match`), either fields or aggregates, a time range
[start, end) in ms, tags to group by, optionally buckets of time, an order and a limit. The
InfluxDB store renders it as InfluxQL (`storage.influx.influxql`), the SQLite store as SQL.

The answer follows InfluxDB's: one `Rows` per measurement and group, its first column `time`.
A limit and an offset count within each group. A bucket row is stamped with the bucket's start,
and only buckets with points are answered. An aggregate without buckets is stamped with the
range's start (0 without one), except a lone selector (`last`, `min`, `max`), which keeps the
time of the point it selected (of equal minima or maxima, the earliest).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from storage.layout import VALUE

# Per tag, the values a point's tag may have (any one of them).
Match = tuple[tuple[str, tuple[str, ...]], ...]


def match(**tags: str | Sequence[str] | None) -> Match:
    """The tag filter: a tag given as a text must equal it, as a sequence be one of them.

    None or an empty sequence puts no condition on that tag.
    """
    out = []
    for name, wanted in tags.items():
        if wanted is None:
            continue
        values = (wanted,) if isinstance(wanted, str) else tuple(dict.fromkeys(wanted))
        if values:
            out.append((name, values))
    return tuple(out)


class Function(StrEnum):
    """What a store computes over the points of a group or bucket."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    SUM = "sum"
    LAST = "last"


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A function of one field, answered in the column `name` (the function's, by default)."""

    function: Function
    field: str = VALUE
    alias: str = ""

    @property
    def name(self) -> str:
        """The answer's column."""
        return self.alias or self.function.value


@dataclass(frozen=True, slots=True)
class Buckets:
    """Buckets of `width_ms` starting at `offset_ms` after each multiple of the width (UTC),
    or after each local midnight of `timezone` (a zone without daylight saving time)."""

    width_ms: int
    offset_ms: int = 0
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Select:
    """One read: see the module's docstring for the shape of its answer."""

    measurements: tuple[str, ...]
    where: Match = ()
    fields: tuple[str, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None
    group_by: tuple[str, ...] = ()
    buckets: Buckets | None = None
    descending: bool = False
    limit: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        """Refuse a read no store could answer."""
        if bool(self.fields) == bool(self.aggregates):
            raise ValueError("a select names either fields or aggregates")
        if self.buckets is not None and (not self.aggregates or self.start_ms is None):
            raise ValueError("buckets need aggregates and a start")


@dataclass(frozen=True, slots=True)
class Rows:
    """The answer of one group: measurement, the group's tags, columns and rows."""

    measurement: str
    tags: dict[str, str]
    columns: tuple[str, ...]
    values: list[list[Any]]

    def records(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict by column."""
        for row in self.values:
            yield dict(zip(self.columns, row, strict=True))


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """One group's answer for a single numeric field, as arrays: times (ms) and values.

    For answers of many points (exports): a million rows are cheap as two arrays.
    """

    name: str
    tags: dict[str, str]
    times: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

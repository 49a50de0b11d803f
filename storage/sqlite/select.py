"""A `Select` answered from the SQLite file, as InfluxDB answers the same read.

Series are few (one per sensor, device status, asset, alert key) and their tags are matched in
Python; points are read by series and time range through the primary key. Aggregates of
`value` are computed in SQL; those of other fields read them from the point's JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storage.errors import StoreError
from storage.layout import VALUE
from storage.query import Aggregate, Function, Match, Rows, Select, SeriesColumns
from storage.sqlite.encoding import BOOLEAN

_SQL = {
    Function.MEAN: "avg",
    Function.MIN: "min",
    Function.MAX: "max",
    Function.COUNT: "count",
    Function.SUM: "sum",
}
# A lone one of these without buckets answers the time of the point it selected.
_SELECTORS = {
    Function.LAST: "time DESC",
    Function.MIN: "{0} ASC, time",
    Function.MAX: "{0} DESC, time",
}


@dataclass
class Catalogue:
    """The series and field types of the file, as far as read; refreshed before each read."""

    series: dict[int, tuple[str, dict[str, str]]] = field(default_factory=dict)
    types: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, db: Any) -> None:
        """Learn the series and fields written since (by any process)."""
        with self.lock:
            newest = max(self.series, default=0)
            for id_, measurement, tags in db.execute(
                "SELECT id, measurement, tags FROM series WHERE id > ?", (newest,)
            ):
                self.series[id_] = (measurement, json.loads(tags))
            for measurement, name, kind in db.execute("SELECT * FROM field_types"):
                self.types[measurement, name] = kind


def _matches(tags: dict[str, str], where: Match) -> bool:
    return all(tags.get(name, "") in values for name, values in where)


def _groups(known: Catalogue, select: Select) -> list[tuple[str, dict[str, str], list[int]]]:
    """(measurement, group tags, series ids) of each group of the read, in InfluxDB's order."""
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    wanted = set(select.measurements)
    for id_, (measurement, tags) in known.series.items():
        if measurement in wanted and _matches(tags, select.where):
            key = (measurement, tuple(tags.get(t, "") for t in select.group_by))
            groups.setdefault(key, []).append(id_)
    return [
        (measurement, dict(zip(select.group_by, values, strict=True)), ids)
        for (measurement, values), ids in sorted(groups.items())
    ]


def _expression(name: str) -> str:
    """SQL of a field: the `value` column, or the field in the point's JSON."""
    if name == VALUE:
        return "value"
    return "json_extract(fields, " + _literal("$." + json.dumps(name)) + ")"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _range(select: Select, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """The WHERE clause of a group's points and its parameters."""
    clauses = [f"series IN ({','.join('?' * len(ids))})"]
    params: list[Any] = list(ids)
    if select.start_ms is not None:
        clauses.append("time >= ?")
        params.append(int(select.start_ms))
    if select.end_ms is not None:
        clauses.append("time < ?")
        params.append(int(select.end_ms))
    return " AND ".join(clauses), params


def _typed(known: Catalogue, measurement: str, name: str, value: Any) -> Any:
    """A value as its field's type (SQLite keeps booleans as integers)."""
    if value is not None and known.types.get((measurement, name)) == BOOLEAN:
        return bool(value)
    return value


def rows(db: Any, known: Catalogue, select: Select) -> list[Rows]:
    """The answer of one read."""
    known.refresh(db)
    out = []
    for measurement, tags, ids in _groups(known, select):
        if select.aggregates:
            values = _aggregates(db, known, select, measurement, ids)
            columns = ("time", *(a.name for a in select.aggregates))
        else:
            values = _raw(db, known, select, measurement, ids)
            columns = ("time", *select.fields)
        if values:
            out.append(Rows(measurement, tags, columns, values))
    return out


def _raw(
    db: Any, known: Catalogue, select: Select, measurement: str, ids: list[int]
) -> list[list[Any]]:
    """A group's points, with the selected fields (tags of the point where no field is named
    so); a point none of whose selected fields is set is left out, as InfluxDB leaves it."""
    fields = [f for f in select.fields if f == VALUE or (measurement, f) in known.types]
    if not fields:
        return []
    where, params = _range(select, ids)
    where += " AND (" + " OR ".join(f"{_expression(f)} IS NOT NULL" for f in fields) + ")"
    order = "DESC" if select.descending else "ASC"
    sql = (
        f"SELECT series, time, value, fields FROM points WHERE {where} "
        f"ORDER BY time {order}, series LIMIT ? OFFSET ?"
    )
    limit = -1 if select.limit is None else int(select.limit)
    out = []
    for series, time_ms, value, text in db.execute(sql, [*params, limit, int(select.offset)]):
        tags = known.series[series][1]
        others = json.loads(text) if text != "{}" else {}
        row: list[Any] = [time_ms]
        for name in select.fields:
            if name == VALUE:
                row.append(_typed(known, measurement, name, value))
            elif name in others:
                row.append(_typed(known, measurement, name, others[name]))
            else:
                row.append(tags.get(name))
        out.append(row)
    return out


def _bucketing(select: Select) -> tuple[int, int] | None:
    """Width and offset (ms) of the read's buckets, a time zone's offset included."""
    buckets = select.buckets
    if buckets is None:
        return None
    offset = buckets.offset_ms
    if buckets.timezone:
        start = dt.datetime.fromtimestamp((select.start_ms or 0) / 1000, dt.UTC)
        shift = zoneinfo.ZoneInfo(buckets.timezone).utcoffset(start) or dt.timedelta(0)
        offset -= int(shift.total_seconds() * 1000)
    return buckets.width_ms, offset % buckets.width_ms


def _aggregates(
    db: Any, known: Catalogue, select: Select, measurement: str, ids: list[int]
) -> list[list[Any]]:
    """A group's aggregates: one row per bucket with points, or one row without buckets."""
    where, params = _range(select, ids)
    bucketing = _bucketing(select)
    lone = select.aggregates[0] if len(select.aggregates) == 1 else None
    if bucketing is None and lone is not None and lone.function in _SELECTORS:
        return _selected(db, known, measurement, lone, (where, params))
    if bucketing is None:
        bucket = str(int(select.start_ms or 0))
    else:
        width, offset = bucketing
        bucket = f"(time - ((time - {offset}) % {width}))"
    found: dict[int, list[Any]] = {}
    for position, aggregate in enumerate(select.aggregates):
        expression = _expression(aggregate.field)
        if aggregate.function is Function.LAST:
            # SQLite gives a bare column the row of max(): the newest point with the field.
            sql = (
                f"SELECT {bucket} AS b, {expression}, max(time) FROM points "
                f"WHERE {where} AND {expression} IS NOT NULL GROUP BY b"
            )
        else:
            sql = (
                f"SELECT {bucket} AS b, {_SQL[aggregate.function]}({expression}) FROM points "
                f"WHERE {where} AND {expression} IS NOT NULL GROUP BY b"
            )
        for b, value, *_ in db.execute(sql, params):
            row = found.setdefault(int(b), [int(b)] + [None] * len(select.aggregates))
            row[position + 1] = _answer(known, measurement, aggregate, value)
    out = [found[b] for b in sorted(found, reverse=select.descending)]
    limit = len(out) if select.limit is None else int(select.limit)
    return out[select.offset : select.offset + limit]


def _selected(
    db: Any, known: Catalogue, measurement: str, lone: Aggregate, condition: tuple[str, list[Any]]
) -> list[list[Any]]:
    """A lone selector without buckets: the selected point's time and value."""
    where, params = condition
    expression = _expression(lone.field)
    order = _SELECTORS[lone.function].format(expression)
    row = db.execute(
        f"SELECT time, {expression} FROM points WHERE {where} AND {expression} IS NOT NULL "
        f"ORDER BY {order} LIMIT 1",
        params,
    ).fetchone()
    if row is None:
        return []
    return [[int(row[0]), _answer(known, measurement, lone, row[1])]]


def _answer(known: Catalogue, measurement: str, aggregate: Aggregate, value: Any) -> Any:
    """An aggregate's value as InfluxDB types it: a mean is a float, a count an integer."""
    if aggregate.function is Function.MEAN:
        return float(value)
    if aggregate.function is Function.COUNT:
        return int(value)
    return _typed(known, measurement, aggregate.field, value)


def columns(db: Any, known: Catalogue, select: Select) -> list[SeriesColumns]:
    """The answer of a read of one numeric field, each group as arrays."""
    out = []
    for rows_ in rows(db, known, select):
        if len(rows_.columns) != 2:
            raise StoreError("query answered other than one field")
        values = rows_.values
        if any(isinstance(v, bool) or not isinstance(v, int | float) for _, v in values):
            raise StoreError("query answered other than numbers")
        times = np.fromiter((int(t) for t, _ in values), np.int64, len(values))
        numbers = np.fromiter((float(v) for _, v in values), np.float64, len(values))
        out.append(SeriesColumns(rows_.measurement, rows_.tags, times, numbers))
    return out

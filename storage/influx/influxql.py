"""InfluxQL, the one builder: a typed `Select` as a statement, every tag value quoted."""

from __future__ import annotations

from collections.abc import Sequence

from storage.layout import READING_MEASUREMENTS
from storage.query import Match, Select

_READINGS = frozenset(READING_MEASUREMENTS)


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (measurement, tag, field, alias), double-quoted."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal; tag values are never pasted into a query unquoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where(tags: Match, start_ms: int | None = None, end_ms: int | None = None) -> str:
    """The one filter builder: each tag equal to one of its values, then the time range."""
    clauses = []
    for name, values in tags:
        alternatives = [f"{quote_ident(name)} = {quote_string(v)}" for v in values]
        clauses.append(
            alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"
        )
    if start_ms is not None:
        clauses.append(f"time >= {int(start_ms)}ms")
    if end_ms is not None:
        clauses.append(f"time < {int(end_ms)}ms")
    return " AND ".join(clauses)


def source(measurement: str, raw_rp: str | None = None) -> str:
    """A measurement in FROM: raw readings qualified by their retention policy, if they have one."""
    if raw_rp and measurement in _READINGS:
        return f"{quote_ident(raw_rp)}.{quote_ident(measurement)}"
    return quote_ident(measurement)


def statement(select: Select, raw_rp: str | None = None) -> str:
    """One SELECT statement (raw readings read from `raw_rp`, when given)."""
    if select.aggregates:
        columns = ", ".join(
            f"{a.function.value}({quote_ident(a.field)}) AS {quote_ident(a.name)}"
            for a in select.aggregates
        )
    else:
        columns = ", ".join(quote_ident(f) for f in select.fields)
    parts = [f"SELECT {columns} FROM {','.join(source(m, raw_rp) for m in select.measurements)}"]
    condition = where(select.where, select.start_ms, select.end_ms)
    if condition:
        parts.append(f"WHERE {condition}")
    groups = [quote_ident(tag) for tag in select.group_by]
    buckets = select.buckets
    if buckets is not None:
        offset = f", {buckets.offset_ms}ms" if buckets.offset_ms else ""
        groups.insert(0, f"time({buckets.width_ms}ms{offset})")
    if groups:
        parts.append("GROUP BY " + ", ".join(groups))
    if buckets is not None:
        parts.append("fill(none)")
    if select.descending:
        parts.append("ORDER BY time DESC")
    if select.limit is not None:
        parts.append(f"LIMIT {int(select.limit)}")
    if select.offset:
        parts.append(f"OFFSET {int(select.offset)}")
    if buckets is not None and buckets.timezone:
        parts.append(f"tz({quote_string(buckets.timezone)})")
    return " ".join(parts)


def statements(selects: Sequence[Select], raw_rp: str | None = None) -> str:
    """Several statements, answered in one request."""
    return ";".join(statement(s, raw_rp) for s in selects)


def is_reading_line(line: str) -> bool:
    """Whether a line of line protocol is a raw reading (its measurement a sensor kind)."""
    end = len(line)
    for stop in (",", " "):
        found = line.find(stop)
        if found != -1:
            end = min(end, found)
    return line[:end] in _READINGS

"""InfluxQL, the one builder: a typed `Select` as a statement, every tag value quoted."""

from __future__ import annotations

from collections.abc import Sequence

from storage.query import Match, Select


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


def statement(select: Select) -> str:
    """One SELECT statement."""
    if select.aggregates:
        columns = ", ".join(
            f"{a.function.value}({quote_ident(a.field)}) AS {quote_ident(a.name)}"
            for a in select.aggregates
        )
    else:
        columns = ", ".join(quote_ident(f) for f in select.fields)
    parts = [f"SELECT {columns} FROM {','.join(quote_ident(m) for m in select.measurements)}"]
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


def statements(selects: Sequence[Select]) -> str:
    """Several statements, answered in one request."""
    return ";".join(statement(s) for s in selects)

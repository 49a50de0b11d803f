"""Rows for the SQLite store: what a batch holds, encoded while it is filled.

A point's tags are kept as canonical JSON (keys sorted, no spaces), so equal tags are equal
text and a series is found by (measurement, tags). Its `value` field gets a column of its own
(readings are aggregated in SQL); any other fields are JSON. Each row carries the type of each
field, as InfluxDB names them, so that the store can refuse a type that conflicts.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from edge.protocol import DeviceTopic, Reading
from storage.batch import ChannelReadings
from storage.layout import DEVICE, GAP_FIELD, SENSOR, SHIFT_FIELD, SITE, TENANT, VALUE
from storage.points import FieldValue, Point

FLOAT = "float"
INTEGER = "integer"
BOOLEAN = "boolean"
STRING = "string"

_READING_TYPES = ((VALUE, FLOAT),)


class Row(NamedTuple):
    """One point as the store writes it."""

    measurement: str
    tags: str
    time_ms: int
    value: FieldValue | None
    fields: str
    types: tuple[tuple[str, str], ...]


def type_name(value: FieldValue) -> str:
    """The type of a field value, in InfluxDB's words."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return FLOAT
    return STRING


def tags_key(tags: Mapping[str, str]) -> str:
    """Canonical JSON of a point's tags."""
    return json.dumps(tags, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fields_json(fields: Mapping[str, FieldValue]) -> str:
    """The JSON of fields other than `value`."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


@functools.lru_cache(maxsize=65_536)
def _reading_tags(topic: DeviceTopic, sensor: str) -> str:
    return tags_key({DEVICE: topic.device, SENSOR: sensor, SITE: topic.site, TENANT: topic.tenant})


def refusal(row: Row, tags_ok: dict[str, bool]) -> str | None:
    """Why no store would take the row (InfluxDB refuses the same), or None.

    `tags_ok` remembers tags already looked at, for the many rows of one series.
    """
    if row.value is None and row.fields == "{}":
        return "a point needs at least one field"
    numbers = [row.value] if isinstance(row.value, float) else []
    if row.fields != "{}":
        numbers += [v for v in json.loads(row.fields).values() if isinstance(v, float)]
    if not all(math.isfinite(n) for n in numbers):
        return "invalid number: a field is NaN or infinite"
    ok = tags_ok.get(row.tags)
    if ok is None:
        ok = tags_ok[row.tags] = all(json.loads(row.tags).values())
    return None if ok else "missing tag value"


class RowEncoder:
    """Encodes a batch as rows while it is filled."""

    def readings(
        self, topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int, missing: int = 0
    ) -> list[Row]:
        """One row per reading of one device, with the flag fields of the batch."""
        flags = {SHIFT_FIELD: int(shift_ms), GAP_FIELD: int(missing)}
        flags = {name: number for name, number in flags.items() if number}
        fields, types = ("{}", _READING_TYPES)
        if flags:
            fields = fields_json(flags)
            types = _READING_TYPES + tuple((name, INTEGER) for name in flags)
        return [
            Row(kind.value, _reading_tags(topic, sensor), int(ts), float(value), fields, types)
            for sensor, kind, ts, value in readings
        ]

    def channel(self, channel: ChannelReadings) -> list[Row]:
        """One row per reading of one sensor channel."""
        tags = _reading_tags(channel.topic, channel.sensor)
        measurement = channel.kind.value
        return [
            Row(measurement, tags, int(ts), float(value), "{}", _READING_TYPES)
            for ts, value in zip(channel.ts_ms, channel.values, strict=True)
        ]

    def point(self, point: Point) -> Row:
        """The row of one point."""
        others = {k: v for k, v in point.fields.items() if k != VALUE}
        types = tuple((k, type_name(v)) for k, v in point.fields.items())
        return Row(
            point.measurement,
            tags_key(point.tags),
            int(point.time_ms),
            point.fields.get(VALUE),
            fields_json(others),
            types,
        )

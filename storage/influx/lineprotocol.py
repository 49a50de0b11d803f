"""InfluxDB line protocol, the one encoder: points, and readings on their fast path.

Tags are written sorted by key (InfluxDB's own order, cheapest for it to index); a tag value
never needs quoting, only its commas, equals signs and spaces escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from edge.protocol import DeviceTopic, Reading, SensorKind
from edge.status import StatusReport
from storage.batch import WireReadings
from storage.layout import GAP_FIELD, SHIFT_FIELD, STATUS_MEASUREMENT
from storage.points import FieldValue, Point, one_line, status_point

__all__ = [
    "GAP_FIELD",
    "SHIFT_FIELD",
    "STATUS_MEASUREMENT",
    "escape_tag",
    "point_line",
    "reading_lines",
    "series_lines",
    "status_line",
    "string_field",
]

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})


def escape_tag(value: str) -> str:
    """Escape a tag key or value (or a field key); backslashes stay as written, which
    InfluxDB 1.x reads back unchanged."""
    return value.translate(_TAG_ESCAPES)


def string_field(value: str) -> str:
    """A string field value, quoted and escaped, on one line."""
    return '"' + one_line(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def field_value(value: FieldValue) -> str:
    """A field value as line protocol types it: boolean, integer (`i`), float or string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return string_field(value)


def point_line(point: Point) -> str:
    """One point as a line."""
    head = point.measurement.translate(_MEASUREMENT_ESCAPES)
    tags = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(point.tags.items()))
    fields = ",".join(f"{escape_tag(k)}={field_value(v)}" for k, v in point.fields.items())
    return f"{head}{tags} {fields} {point.time_ms}"


@functools.lru_cache(maxsize=65_536)
def _prefix(tenant: str, site: str, device: str, sensor: str, kind: str) -> str:
    """Everything of a reading's line before its value: one per sensor channel, kept across
    messages (a message of one reading would otherwise build it for that reading alone)."""
    return (
        f"{kind},device={escape_tag(device)},sensor={escape_tag(sensor)},"
        f"site={escape_tag(site)},tenant={escape_tag(tenant)} value="
    )


def reading_lines(
    topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int = 0, missing: int = 0
) -> list[str]:
    """Lines of one device's readings; `shift_ms` and `missing` != 0 are stored as flag fields.

    The same lines as `point_line` would give, built for the rate of ingest: everything up to
    the value is shared by all readings of one sensor channel.
    """
    tenant, site, device = topic.tenant, topic.site, topic.device
    extra = f",{SHIFT_FIELD}={shift_ms}i" if shift_ms else ""
    extra += f",{GAP_FIELD}={missing}i" if missing else ""
    if isinstance(readings, WireReadings):
        return _wire_lines(topic, readings, extra)
    # By sensor name, its kind beside it: hashing the kind (an enum) would run Python code.
    prefixes: dict[str, tuple[SensorKind, str]] = {}
    lines = []
    for sensor, kind, ts, value in readings:
        known = prefixes.get(sensor)
        if known is None or known[0] is not kind:
            known = prefixes[sensor] = (kind, _prefix(tenant, site, device, sensor, kind.value))
        lines.append(f"{known[1]}{value!r}{extra} {ts}")
    return lines


def _wire_lines(topic: DeviceTopic, readings: WireReadings, extra: str) -> list[str]:
    """reading_lines of records as decoded from the wire: the same lines, read straight from
    the records (kinds by their names), with no Reading built."""
    tenant, site, device = topic.tenant, topic.site, topic.device
    shift = readings.shift_ms
    prefixes: dict[str, tuple[str, str]] = {}
    lines = []
    for r in readings.records:
        kind = r.k
        sensor = kind if r.s is None else r.s
        known = prefixes.get(sensor)
        if known is None or known[0] != kind:
            known = prefixes[sensor] = (kind, _prefix(tenant, site, device, sensor, kind))
        lines.append(f"{known[1]}{r.v!r}{extra} {r.t + shift}")
    return lines


def series_lines(
    topic: DeviceTopic,
    sensor: str,
    kind: SensorKind,
    ts_ms: Sequence[int],
    values: Sequence[float],
) -> list[str]:
    """Lines of many readings of one sensor channel (backfills, benchmarks)."""
    prefix = _prefix(topic.tenant, topic.site, topic.device, sensor, kind.value)
    return [f"{prefix}{value!r} {ts}" for ts, value in zip(ts_ms, values, strict=True)]


def status_line(topic: DeviceTopic, report: StatusReport, received_ms: int) -> str:
    """The line of one `device_status` point (see `storage.points.status_point`)."""
    return point_line(status_point(topic, report, received_ms))

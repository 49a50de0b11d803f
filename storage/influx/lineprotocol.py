"""InfluxDB line protocol for readings: one measurement per sensor kind, tags sorted by key."""

from __future__ import annotations

import functools

from edge.protocol import DeviceTopic, Reading, SensorKind
from edge.status import AgentState, StatusReport
from storage.layout import SHIFT_FIELD, STATUS_MEASUREMENT

__all__ = [
    "SHIFT_FIELD",
    "STATUS_MEASUREMENT",
    "escape_tag",
    "reading_lines",
    "series_lines",
    "status_line",
    "string_field",
]

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})


def escape_tag(value: str) -> str:
    """Escape a tag value; backslashes stay as written, which InfluxDB 1.x reads back unchanged."""
    return value.translate(_TAG_ESCAPES)


@functools.lru_cache(maxsize=65_536)
def _tag_parts(topic: DeviceTopic) -> tuple[str, str]:
    """The tags before and after the sensor tag, shared by every reading of one device."""
    return (
        f"device={escape_tag(topic.device)},sensor=",
        f",site={escape_tag(topic.site)},tenant={escape_tag(topic.tenant)}",
    )


def reading_lines(topic: DeviceTopic, readings: list[Reading], shift_ms: int = 0) -> list[str]:
    """Line protocol for one device's readings; `shift_ms` != 0 is stored as a flag field."""
    head, tail = _tag_parts(topic)
    extra = f",{SHIFT_FIELD}={shift_ms}i" if shift_ms else ""
    # Everything up to the value is the same for all readings of one sensor channel.
    prefixes: dict[tuple[str, SensorKind], str] = {}
    lines = []
    for sensor, kind, ts, value in readings:
        prefix = prefixes.get((sensor, kind))
        if prefix is None:
            prefix = prefixes[sensor, kind] = f"{kind},{head}{escape_tag(sensor)}{tail} value="
        lines.append(f"{prefix}{value!r}{extra} {ts}")
    return lines


def series_lines(
    topic: DeviceTopic, sensor: str, kind: SensorKind, ts_ms: list[int], values: list[float]
) -> list[str]:
    """Line protocol for many readings of one sensor channel (backfills, benchmarks)."""
    head, tail = _tag_parts(topic)
    prefix = f"{kind},{head}{escape_tag(sensor)}{tail} value="
    return [f"{prefix}{value!r} {ts}" for ts, value in zip(ts_ms, values, strict=True)]


def string_field(value: str) -> str:
    """A line-protocol string field value, quoted and escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def status_line(topic: DeviceTopic, report: StatusReport, received_ms: int) -> str:
    """One `device_status` point, stamped with the receive time (a Pi's own clock may be off)."""
    fields = [f"state={string_field(report.state.value)}"]
    fields.append(f"online={'true' if report.state is AgentState.ONLINE else 'false'}")
    numbers = {
        "device_time_ms": report.time_ms,
        "spool_readings": report.spool_readings,
        "spool_dropped": report.spool_dropped,
        "unacked_batches": report.unacked_batches,
        "reconnects": report.reconnects,
    }
    fields += [f"{name}={value}i" for name, value in numbers.items() if value is not None]
    texts = {"version": report.version, "config_state": report.config_state, "clock": report.clock}
    fields += [f"{name}={string_field(value)}" for name, value in texts.items() if value]
    tags = (
        f"device={escape_tag(topic.device)},site={escape_tag(topic.site)},"
        f"tenant={escape_tag(topic.tenant)}"
    )
    return f"{STATUS_MEASUREMENT},{tags} {','.join(fields)} {received_ms}"

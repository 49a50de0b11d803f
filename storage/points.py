"""A point as every store keeps it: measurement, tags, typed fields, time in ms.

The key of a point is (measurement, tags, time): a second point with the same key replaces the
fields it names (see `storage.layout`). Readings have their own fast paths in each store; this
is the form of everything else (device status, assets, alerts, acknowledgements).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge.protocol import DeviceTopic
from edge.status import AgentState, StatusReport
from storage.layout import DEVICE, SITE, STATUS_MEASUREMENT, TENANT

# A field is one of these; bool before int matters, a bool being an int in Python.
FieldValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class Point:
    """One point to store."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ms: int


@dataclass(frozen=True, slots=True)
class PointRefused:
    """A point the store refused, by position in the written sequence, with the store's reason."""

    index: int
    reason: str


def one_line(text: str) -> str:
    """A text field kept on one line (line protocol ends a point at a newline)."""
    return text.replace("\n", " ")


def status_point(topic: DeviceTopic, report: StatusReport, received_ms: int) -> Point:
    """One `device_status` point, stamped with the receive time (a Pi's own clock may be off)."""
    fields: dict[str, FieldValue] = {
        "state": report.state.value,
        "online": report.state is AgentState.ONLINE,
    }
    numbers = {
        "device_time_ms": report.time_ms,
        "spool_readings": report.spool_readings,
        "spool_dropped": report.spool_dropped,
        "unacked_batches": report.unacked_batches,
        "reconnects": report.reconnects,
    }
    fields.update({name: int(value) for name, value in numbers.items() if value is not None})
    texts = {"version": report.version, "config_state": report.config_state, "clock": report.clock}
    fields.update({name: value for name, value in texts.items() if value})
    tags = {DEVICE: topic.device, SITE: topic.site, TENANT: topic.tenant}
    return Point(STATUS_MEASUREMENT, tags, fields, received_ms)

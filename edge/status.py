"""The agent's retained status message: liveness, spool, sensors, clock and configuration."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from typing import Any

from edge.clock import ClockState
from edge.config import SensorConfig
from edge.protocol import MAX_INTEGER, ProtocolError, brief, decode_json
from edge.spool import SpoolStats


class AgentState(StrEnum):
    """What the status topic says about the agent; the last will says OFFLINE."""

    ONLINE = "online"
    OFFLINE = "offline"


class ConfigState(StrEnum):
    """Where the configuration in force came from."""

    FILE = "file"
    APPLIED = "applied"
    REJECTED = "rejected"


def agent_version() -> str:
    """The installed distribution's version."""
    try:
        return metadata.version("shinshu-iot")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(slots=True)
class SensorHealth:
    """Counters and the last error of one sensor (mutable; guarded by Health's lock)."""

    readings: int = 0
    errors: int = 0
    last_ok_ms: int | None = None
    last_error: str | None = None
    last_error_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    """The outcome of the latest remote configuration message."""

    state: ConfigState = ConfigState.FILE
    rev: int | None = None
    error: str | None = None


class Health:
    """Thread-safe record of each sensor's health, the config outcome and uplink errors."""

    def __init__(self, names: list[str]) -> None:
        """Start with every sensor healthy and the file's configuration in force."""
        self._lock = threading.Lock()
        self._sensors = {name: SensorHealth() for name in names}
        self.config = ConfigStatus()
        self.uplink_error: str | None = None
        self.spool_error: str | None = None
        self.reconnects = 0

    def ok(self, name: str, ts_ms: int, count: int) -> None:
        """A sensor delivered `count` readings."""
        with self._lock:
            health = self._sensors[name]
            health.readings += count
            health.last_ok_ms = ts_ms

    def failed(self, name: str, ts_ms: int, error: str) -> None:
        """A sensor read failed; it will be retried at its next interval."""
        with self._lock:
            health = self._sensors[name]
            health.errors += 1
            health.last_error = error
            health.last_error_ms = ts_ms

    def sensor(self, name: str) -> SensorHealth:
        """A copy of one sensor's health."""
        with self._lock:
            h = self._sensors[name]
            return SensorHealth(h.readings, h.errors, h.last_ok_ms, h.last_error, h.last_error_ms)


def status_document(
    *,
    device: str,
    state: AgentState,
    now_ms: int,
    clock: ClockState,
    spool: SpoolStats,
    spool_max_bytes: int,
    sensors: tuple[SensorConfig, ...],
    health: Health,
) -> bytes:
    """The JSON status payload (see docs/edge.md for every field)."""
    doc: dict[str, Any] = {
        "v": 1,
        "device": device,
        "state": state.value,
        "version": agent_version(),
        "time": now_ms,
        "clock": clock.value,
        "spool": {
            "readings": spool.readings,
            "bytes": spool.bytes,
            "max_bytes": spool_max_bytes,
            "dropped": spool.dropped,
            "unacked_batches": spool.unacked_batches,
            "error": health.spool_error,
        },
        "sensors": {},
        "config": {
            "state": health.config.state.value,
            "rev": health.config.rev,
            "error": health.config.error,
        },
        "uplink": {"reconnects": health.reconnects, "last_error": health.uplink_error},
    }
    for sensor in sensors:
        h = health.sensor(sensor.name)
        doc["sensors"][sensor.name] = {
            "driver": sensor.driver.value,
            "kinds": [kind.value for kind in sensor.kinds],
            "enabled": sensor.enabled,
            "interval_s": sensor.interval_s,
            "readings": h.readings,
            "errors": h.errors,
            "last_ok": h.last_ok_ms,
            "last_error": h.last_error,
            "last_error_at": h.last_error_ms,
        }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def offline_document(device: str) -> bytes:
    """The last will: what the status topic says after the agent vanished."""
    doc = {"v": 1, "device": device, "state": AgentState.OFFLINE.value, "version": agent_version()}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What a receiver keeps of a status message; fields the message lacks are None."""

    device: str
    state: AgentState
    time_ms: int | None = None
    version: str | None = None
    spool_readings: int | None = None
    spool_dropped: int | None = None
    unacked_batches: int | None = None
    reconnects: int | None = None
    config_state: str | None = None
    clock: str | None = None


MAX_STATUS_BYTES = 64 * 1024
_STATUS_STRING_CHARS = 200
# Status texts end up in line protocol and in people's terminals: printable text only.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _int_or_none(doc: dict[str, Any], key: str) -> int | None:
    """The status field `key` as an integer the store can keep, None if absent; else raise."""
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise ProtocolError(f"status field {key!r} must be a non-negative integer")
    if value > MAX_INTEGER:
        raise ProtocolError(f"status field {key!r} is larger than 2**63 - 1")
    return value


def _str_or_none(doc: dict[str, Any], key: str) -> str | None:
    """The status field `key` as short printable text, None if absent; else raise."""
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not str or len(value) > _STATUS_STRING_CHARS:
        raise ProtocolError(f"status field {key!r} must be a short string")
    if _UNPRINTABLE.search(value):
        raise ProtocolError(f"status field {key!r} must be a short string of printable text")
    return value


def status_from_document(doc: object) -> StatusReport:
    """Check a decoded status document; raise ProtocolError with the reason if it is malformed."""
    if type(doc) is not dict or type(doc.get("v")) is not int or doc["v"] != 1:
        raise ProtocolError("status must be a JSON object with v = 1")
    device = doc.get("device")
    if type(device) is not str or not device:
        raise ProtocolError("status has no device id")
    state = doc.get("state")
    try:
        state = AgentState(state)
    except ValueError as exc:
        raise ProtocolError(f"unknown agent state {brief(state)}") from exc
    spool, uplink, config = (
        {} if doc.get(k) is None else doc[k] for k in ("spool", "uplink", "config")
    )
    if not all(type(part) is dict for part in (spool, uplink, config)):
        raise ProtocolError("status spool, uplink and config must be objects")
    return StatusReport(
        device=device,
        state=state,
        time_ms=_int_or_none(doc, "time"),
        version=_str_or_none(doc, "version"),
        spool_readings=_int_or_none(spool, "readings"),
        spool_dropped=_int_or_none(spool, "dropped"),
        unacked_batches=_int_or_none(spool, "unacked_batches"),
        reconnects=_int_or_none(uplink, "reconnects"),
        config_state=_str_or_none(config, "state"),
        clock=_str_or_none(doc, "clock"),
    )


def decode_status(payload: bytes, *, max_bytes: int = MAX_STATUS_BYTES) -> StatusReport:
    """Parse a status or last-will payload; raise ProtocolError with the reason if malformed."""
    if len(payload) > max_bytes:
        raise ProtocolError(f"status of {len(payload)} bytes exceeds the limit of {max_bytes}")
    return status_from_document(decode_json(payload))

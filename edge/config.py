"""The agent's configuration: a TOML file, `SHINSHU_*` overrides, and remote changes.

Standard library only. The file names the device, the broker and every sensor; the retained
`.../config` topic may then change sampling intervals and enable or disable sensors, nothing
else (a remote message never chooses a driver or a file path on the device).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from edge.clock import ClockSource
from edge.credentials import systemd_credential
from edge.errors import EdgeError
from edge.protocol import MAX_MESSAGE_BYTES, MAX_READINGS_PER_BATCH, SensorKind, check_id

ENV_PREFIX = "SHINSHU_"
MIN_INTERVAL_S = 0.001
MAX_INTERVAL_S = 7 * 24 * 3600.0
# A remote configuration names sensors and two settings each: a few kB at most.
MAX_CONFIG_BYTES = 64 * 1024


class ConfigError(EdgeError, ValueError):
    """A configuration file or a remote configuration message is invalid; text says why."""


class Delivery(StrEnum):
    """When a batch may leave the spool."""

    # When ingest's receipt says it is stored: survives a broker that crashes (the default).
    STORED = "stored"
    # When the broker acknowledges it: for a broker whose subscribers send no receipts.
    BROKER = "broker"


class MqttProtocol(StrEnum):
    """The MQTT version the agent speaks to its broker."""

    # MQTT 5 (the default): PUBACK reason codes tell a batch nobody heard from a refused one.
    V5 = "5"
    # MQTT 3.1.1, for brokers without MQTT 5 (RabbitMQ 3.10's MQTT plugin): a PUBACK carries
    # no reason, so a batch nobody heard is resent only after `receipt_timeout_s`, and a
    # refused publish is a closed connection instead of a reason code (docs/cluster.md).
    V311 = "3.1.1"


class DriverKind(StrEnum):
    """The sensor drivers an agent can run."""

    SIMULATED = "simulated"
    DS18B20 = "ds18b20"
    BME280 = "bme280"
    HX711 = "hx711"


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """One sensor: its channel id, driver, what it measures and how often."""

    name: str
    driver: DriverKind
    kinds: tuple[SensorKind, ...]
    interval_s: float
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything the agent reads at start; see deploy/agent.example.toml for each key."""

    device: str
    sensors: tuple[SensorConfig, ...]
    tenant: str = "demo"
    site: str = "sim"
    mqtt_url: str = field(default="mqtt://localhost:1883", repr=False)
    mqtt_protocol: MqttProtocol = MqttProtocol.V5
    # The device's broker account: username (default: its client id) and a file holding the
    # secret `shinshu devices add` printed, readable only by the agent's user (default: the
    # systemd credential `mqtt-password`, see deploy/shinshu-edge.service).
    mqtt_username: str | None = None
    mqtt_password_file: Path | None = None
    # mqtts://: the CA that signed the broker's certificate, and an optional client certificate.
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    data_dir: Path = Path("~/.local/share/shinshu/edge")
    spool_max_bytes: int = 256 * 1024 * 1024
    inflight: int = 20
    delivery: Delivery = Delivery.STORED
    # A delivered batch whose receipt is this late, while later ones have theirs, is sent again.
    receipt_timeout_s: float = 60.0
    batch_max_readings: int = 500
    batch_max_bytes: int = 64 * 1024
    batch_linger_s: float = 1.0
    drain_rate: float = 20.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    keepalive_s: int = 30
    status_interval_s: float = 60.0
    shutdown_grace_s: float = 5.0
    clock_source: ClockSource = ClockSource.AUTO
    journal: Path | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        """Refuse values that cannot work, with the reason."""
        for name in ("tenant", "site", "device"):
            _check(lambda n=name: check_id(getattr(self, n), n))
        limits = {
            "spool_max_bytes": (4096, 1 << 40),
            "inflight": (1, 65_000),
            "batch_max_readings": (1, MAX_READINGS_PER_BATCH),
            "batch_max_bytes": (1024, MAX_MESSAGE_BYTES),
            "batch_linger_s": (0.0, 3600.0),
            "drain_rate": (0.1, 1e6),
            "backoff_base_s": (0.01, 3600.0),
            "backoff_cap_s": (0.01, 3600.0),
            "keepalive_s": (1, 65_535),
            "status_interval_s": (0.1, 86_400.0),
            "shutdown_grace_s": (0.0, 600.0),
            "receipt_timeout_s": (0.1, 86_400.0),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"{name} must be within {low}..{high}, got {value}")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ConfigError("mqtt_cert_file and mqtt_key_file go together")
        names = [sensor.name for sensor in self.sensors]
        if not names:
            raise ConfigError("at least one [[sensors]] entry is needed")
        if len(set(names)) != len(names):
            raise ConfigError("sensor names must be unique")

    @property
    def data_path(self) -> Path:
        """The data folder with `~` expanded."""
        return self.data_dir.expanduser()

    @property
    def client_id(self) -> str:
        """The MQTT client id: the device's account name in the platform's registry."""
        return f"shinshu-edge/{self.tenant}/{self.site}/{self.device}"

    @property
    def password_path(self) -> Path | None:
        """The file with the broker secret, if the agent has one."""
        if self.mqtt_password_file is not None:
            return self.mqtt_password_file.expanduser()
        return systemd_credential("mqtt-password")


def _check(test: Any) -> None:
    """Run a protocol check and turn its error into a ConfigError."""
    try:
        test()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _interval(raw: Any, where: str) -> float:
    """A sampling interval in seconds, within bounds."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ConfigError(f"{where}: interval_s must be a number of seconds")
    if not MIN_INTERVAL_S <= raw <= MAX_INTERVAL_S:
        raise ConfigError(f"{where}: interval_s must be within {MIN_INTERVAL_S}..{MAX_INTERVAL_S}")
    return float(raw)


def _enum(kind: type[StrEnum], raw: Any, where: str) -> Any:
    """An enum member from its value, or a ConfigError listing the choices."""
    try:
        return kind(raw)
    except ValueError as exc:
        choices = ", ".join(member.value for member in kind)
        raise ConfigError(f"{where}: {raw!r} is not one of {choices}") from exc


def parse_sensor(doc: Mapping[str, Any]) -> SensorConfig:
    """One `[[sensors]]` table."""
    known = {"name", "driver", "kind", "kinds", "interval_s", "enabled", "options"}
    where = f"sensor {doc.get('name')!r}"
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}")
    name = doc.get("name")
    _check(lambda: check_id(name, "sensor name"))
    driver = _enum(DriverKind, doc.get("driver"), where)
    raw_kinds = doc.get("kinds", [doc["kind"]] if "kind" in doc else [])
    if not isinstance(raw_kinds, list):
        raise ConfigError(f"{where}: kinds must be a list")
    kinds = tuple(_enum(SensorKind, kind, where) for kind in raw_kinds)
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled must be true or false")
    options = doc.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: options must be a table")
    return SensorConfig(
        name=name,
        driver=driver,
        kinds=kinds,
        interval_s=_interval(doc.get("interval_s", 60.0), where),
        enabled=enabled,
        options=options,
    )


_SCALARS = {f.name: f for f in dataclasses.fields(AgentConfig) if f.name != "sensors"}


def _field_type(name: str) -> type:
    """The type of field `name`, without `| None`."""
    hint = typing.get_type_hints(AgentConfig)[name]
    if isinstance(hint, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint  # type: ignore[no-any-return]


def _coerce(name: str, raw: Any) -> Any:
    """Convert a TOML value or an environment string to the type of field `name`."""
    kind = _field_type(name)
    if kind is Path:
        return Path(raw) if raw else None
    if kind is ClockSource:
        return _enum(ClockSource, raw, name)
    if kind is Delivery:
        return _enum(Delivery, raw, name)
    if kind is MqttProtocol:
        return _enum(MqttProtocol, str(raw), name)
    if isinstance(raw, kind) and not isinstance(raw, bool):
        return raw
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            return kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: cannot read {raw!r} as {kind.__name__}") from exc
    raise ConfigError(f"{name} must be of type {kind.__name__}, not {type(raw).__name__}")


def load_config(
    path: Path | None, env: Mapping[str, str] | None = None, **overrides: Any
) -> AgentConfig:
    """Merge the TOML file, `SHINSHU_<KEY>` variables and keyword overrides (later ones win)."""
    document: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    unknown = sorted(set(document) - set(_SCALARS) - {"sensors"})
    if unknown:
        raise ConfigError(f"unknown settings in {path}: {', '.join(unknown)}")
    values = {k: v for k, v in document.items() if k != "sensors"}
    environment = os.environ if env is None else env
    for name in _SCALARS:
        if f"{ENV_PREFIX}{name.upper()}" in environment:
            values[name] = environment[f"{ENV_PREFIX}{name.upper()}"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "device" not in values:
        raise ConfigError("device is not set (key `device` or SHINSHU_DEVICE)")
    sensors = document.get("sensors", [])
    if not isinstance(sensors, list):
        raise ConfigError("sensors must be an array of tables ([[sensors]])")
    typed = {name: _coerce(name, raw) for name, raw in values.items()}
    return AgentConfig(sensors=tuple(parse_sensor(s) for s in sensors), **typed)


@dataclass(frozen=True, slots=True)
class SensorOverride:
    """What a remote configuration may change about one sensor."""

    interval_s: float | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A validated `.../config` message: a revision and per-sensor overrides."""

    rev: int
    sensors: Mapping[str, SensorOverride]


def parse_remote(payload: bytes, sensor_names: frozenset[str] | None) -> RemoteConfig:
    """Validate a `.../config` payload against the sensors the agent has; raise with the reason.

    The platform, which does not know a device's sensor names, passes None: then only the
    form is checked, and the agent refuses names it lacks (and says so in its status).

    Format: `{"rev": 3, "sensors": {"air": {"interval_s": 5, "enabled": true}}}`.
    """
    if len(payload) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config of {len(payload)} bytes exceeds {MAX_CONFIG_BYTES}")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"config is not JSON: {exc}") from exc
    except RecursionError as exc:
        # Without its traceback: the cause is kept, not a thousand frames of the decoder.
        raise ConfigError("config is nested too deeply") from exc.with_traceback(None)
    if not isinstance(doc, dict):
        raise ConfigError("config must be a JSON object")
    unknown = sorted(set(doc) - {"rev", "sensors"})
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    rev = doc.get("rev", 0)
    if isinstance(rev, bool) or not isinstance(rev, int) or rev < 0:
        raise ConfigError("rev must be a non-negative integer")
    raw_sensors = doc.get("sensors", {})
    if not isinstance(raw_sensors, dict):
        raise ConfigError("sensors must be an object keyed by sensor name")
    overrides: dict[str, SensorOverride] = {}
    for name, change in raw_sensors.items():
        if sensor_names is not None and name not in sensor_names:
            raise ConfigError(f"no sensor named {name!r} on this device")
        if not isinstance(change, dict) or set(change) - {"interval_s", "enabled"}:
            raise ConfigError(f"sensor {name!r}: only interval_s and enabled can be changed")
        enabled = change.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise ConfigError(f"sensor {name!r}: enabled must be true or false")
        interval = change.get("interval_s")
        overrides[name] = SensorOverride(
            interval_s=None if interval is None else _interval(interval, f"sensor {name!r}"),
            enabled=enabled,
        )
    return RemoteConfig(rev=rev, sensors=overrides)


def apply_remote(
    sensors: tuple[SensorConfig, ...], remote: RemoteConfig
) -> tuple[SensorConfig, ...]:
    """The file's sensors with the remote overrides applied (unnamed sensors keep the file's)."""
    result = []
    for sensor in sensors:
        change = remote.sensors.get(sensor.name, SensorOverride())
        result.append(
            dataclasses.replace(
                sensor,
                interval_s=sensor.interval_s if change.interval_s is None else change.interval_s,
                enabled=sensor.enabled if change.enabled is None else change.enabled,
            )
        )
    return tuple(result)

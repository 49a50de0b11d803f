"""Wire protocol between devices and the platform: topics, batch payloads, sensor catalogue.

The agent defines what it speaks; ingest and the simulators import this module. Standard library
only, so that it runs on a Raspberry Pi Zero. The format is documented in docs/protocol.md.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate
from typing import Any, NamedTuple

from edge.errors import EdgeError

SCHEMA_VERSION = 1
TOPIC_ROOT = "shinshu/v1"
DEAD_LETTER_ROOT = "shinshu/deadletter"
MAX_MESSAGE_BYTES = 256 * 1024
MAX_READINGS_PER_BATCH = 5_000
MAX_ID_CHARS = 128
# No message needs more than four levels; the bound keeps every JSON decoder far from the
# interpreter's recursion limit, whatever a sender nests.
MAX_JSON_DEPTH = 32
# Integers the store keeps are 64-bit signed.
MAX_INTEGER = 2**63 - 1
# A reading may be spooled for a long outage, but not for years; and never sampled after sending.
MAX_READING_AGE_MS = 366 * 24 * 3600 * 1000
MAX_READING_LEAD_MS = 60 * 1000
# Absolute bounds on stored timestamps: 2000-01-01 to 2100-01-01 UTC.
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_TIMESTAMP_MS = 4_102_444_800_000
# MQTT reserves / + #; line protocol cannot carry control characters (C0, DEL, C1); a lone
# surrogate (which a JSON escape can produce) has no UTF-8 encoding at all.
_FORBIDDEN_ID_CHAR = re.compile(r"[/+#\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ProtocolError(EdgeError, ValueError):
    """A message or reading breaks the wire protocol; the text is the reason given back."""


def brief(value: object, limit: int = 60) -> str:
    """A short repr of a value from a message, for a reason (never raises, never long)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        # An integer of thousands of digits has no repr under the interpreter's digit limit.
        text = f"<{type(value).__name__} too large to print>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class Channel(StrEnum):
    """The last topic level: what a message on a device's topic is for."""

    UP = "up"
    STATUS = "status"
    CONFIG = "config"
    # Downlink: ingest's receipts for stored batches (see edge.receipts).
    ACK = "ack"


class Domain(StrEnum):
    """The industries the platform serves."""

    FOREST = "forest"
    FARM = "farm"
    FACTORY = "factory"


class Unit(StrEnum):
    """Canonical units: a reading's value is always in its kind's unit."""

    CELSIUS = "°C"
    PERCENT_RH = "%RH"
    PERCENT_VOL = "% vol"
    PERCENT = "%"
    MILLIMETRE = "mm"
    METRE_PER_SECOND = "m/s"
    DEGREE = "°"
    MICROMETRE = "µm"
    WATT_PER_M2 = "W/m²"
    KILOGRAM = "kg"
    ITEMS = "items"


@dataclass(frozen=True, slots=True)
class KindSpec:
    """Unit, plausible physical range and domains of one sensor kind."""

    unit: Unit
    low: float
    high: float
    domains: frozenset[Domain]
    description: str


_F, _A, _I = Domain.FOREST, Domain.FARM, Domain.FACTORY


class SensorKind(StrEnum):
    """The fixed sensor catalogue; the value is the measurement name in the store."""

    AIR_TEMPERATURE = "air_temperature"
    SOIL_TEMPERATURE = "soil_temperature"
    RELATIVE_HUMIDITY = "relative_humidity"
    SOIL_MOISTURE = "soil_moisture"
    RAINFALL = "rainfall"
    WIND_SPEED = "wind_speed"
    WIND_DIRECTION = "wind_direction"
    STEM_RADIUS = "stem_radius"
    SOLAR_RADIATION = "solar_radiation"
    LEAF_WETNESS = "leaf_wetness"
    BIN_WEIGHT = "bin_weight"
    ITEM_COUNT = "item_count"

    @property
    def spec(self) -> KindSpec:
        """Unit, range and domains of this kind."""
        return CATALOGUE[self]

    @property
    def unit(self) -> Unit:
        """The canonical unit of this kind."""
        return CATALOGUE[self].unit


CATALOGUE: dict[SensorKind, KindSpec] = {
    SensorKind.AIR_TEMPERATURE: KindSpec(
        Unit.CELSIUS, -60, 70, frozenset({_F, _A, _I}), "air temperature"
    ),
    SensorKind.SOIL_TEMPERATURE: KindSpec(
        Unit.CELSIUS, -40, 70, frozenset({_F, _A}), "soil temperature"
    ),
    SensorKind.RELATIVE_HUMIDITY: KindSpec(
        Unit.PERCENT_RH, 0, 100, frozenset({_F, _A, _I}), "relative humidity of air"
    ),
    SensorKind.SOIL_MOISTURE: KindSpec(
        Unit.PERCENT_VOL, 0, 100, frozenset({_F, _A}), "volumetric soil water content"
    ),
    SensorKind.RAINFALL: KindSpec(
        Unit.MILLIMETRE, 0, 500, frozenset({_F, _A}), "rain since the previous reading"
    ),
    SensorKind.WIND_SPEED: KindSpec(
        Unit.METRE_PER_SECOND, 0, 100, frozenset({_F, _A}), "mean wind speed"
    ),
    SensorKind.WIND_DIRECTION: KindSpec(
        Unit.DEGREE, 0, 360, frozenset({_F, _A}), "wind direction, clockwise from north"
    ),
    SensorKind.STEM_RADIUS: KindSpec(
        Unit.MICROMETRE, -1e6, 1e6, frozenset({_F}), "stem dendrometer: radius change"
    ),
    SensorKind.SOLAR_RADIATION: KindSpec(
        Unit.WATT_PER_M2, 0, 2000, frozenset({_A, _F}), "global solar irradiance"
    ),
    SensorKind.LEAF_WETNESS: KindSpec(
        Unit.PERCENT, 0, 100, frozenset({_A}), "share of the leaf sensor that is wet"
    ),
    SensorKind.BIN_WEIGHT: KindSpec(
        Unit.KILOGRAM, -50, 100_000, frozenset({_I}), "net weight on a bin's load cell"
    ),
    SensorKind.ITEM_COUNT: KindSpec(
        Unit.ITEMS, 0, 10_000_000, frozenset({_I}), "items counted in a bin or shelf"
    ),
}
# Kind, lowest and highest accepted value, by the kind's name on the wire.
KIND_BOUNDS: dict[str, tuple[SensorKind, float, float]] = {
    kind.value: (kind, spec.low, spec.high) for kind, spec in CATALOGUE.items()
}


def check_id(value: object, what: str) -> str:
    """Return `value` if it can be a topic level and a store tag, else raise with the reason."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string")
    if not value:
        raise ProtocolError(f"{what} is empty")
    if len(value) > MAX_ID_CHARS:
        raise ProtocolError(f"{what} is longer than {MAX_ID_CHARS} characters")
    bad = _FORBIDDEN_ID_CHAR.search(value)
    if bad is not None:
        char = bad.group()
        if char in "/+#":
            raise ProtocolError(f"{what} contains {char!r}, which MQTT topics reserve")
        if "\ud800" <= char <= "\udfff":
            raise ProtocolError(f"{what} contains the unpaired surrogate U+{ord(char):04X}")
        raise ProtocolError(f"{what} contains the control character U+{ord(char):04X}")
    if value.endswith("\\"):
        # Line protocol would read the backslash as escaping the separator after it.
        raise ProtocolError(f"{what} ends with a backslash")
    return value


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """The tenant, site and device a topic belongs to."""

    tenant: str
    site: str
    device: str

    def topic(self, channel: Channel) -> str:
        """The full topic of this device for `channel`."""
        return f"{TOPIC_ROOT}/{self.tenant}/{self.site}/{self.device}/{channel.value}"

    def validate(self) -> DeviceTopic:
        """Return self if every level is a valid id, else raise with the reason."""
        check_id(self.tenant, "tenant")
        check_id(self.site, "site")
        check_id(self.device, "device")
        return self


@functools.lru_cache(maxsize=65_536)
def parse_topic(topic: str) -> tuple[DeviceTopic, Channel]:
    """Split `shinshu/v1/{tenant}/{site}/{device}/{channel}` or raise with the reason."""
    parts = topic.split("/")
    if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise ProtocolError(
            f"topic {brief(topic, 200)} is not of the form {TOPIC_ROOT}/tenant/site/device/channel"
        )
    try:
        channel = Channel(parts[5])
    except ValueError as exc:
        raise ProtocolError(
            f"unknown channel {brief(parts[5])} in topic {brief(topic, 200)}"
        ) from exc
    return DeviceTopic(parts[2], parts[3], parts[4]).validate(), channel


def dead_letter_topic(tenant: str | None) -> str:
    """Where rejected input of a tenant (or of an unknown one) is published."""
    return f"{DEAD_LETTER_ROOT}/{tenant or '_unknown'}"


class Reading(NamedTuple):
    """One measurement: sensor channel, kind, device time in ms since the epoch (UTC), value.

    A named tuple rather than a frozen dataclass: the reference rules build one per reading,
    and this is four times cheaper to create while just as immutable. (Ingest's compiled path
    builds none: `storage.batch.WireReadings`.)
    """

    sensor: str
    kind: SensorKind
    ts_ms: int
    value: float

    def to_wire(self) -> dict[str, Any]:
        """The reading as it appears in a batch payload."""
        item: dict[str, Any] = {"t": self.ts_ms, "k": self.kind.value, "v": self.value}
        if self.sensor != self.kind.value:
            item["s"] = self.sensor
        return item


@dataclass(frozen=True, slots=True)
class Batch:
    """One uplink message: a device's numbered batch of readings and its send time."""

    device: str
    seq: int
    sent_ms: int
    readings: tuple[Any, ...]
    clock_synced: bool = True
    version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class Rejected:
    """A reading refused by validation, with its position in the batch and the reason."""

    index: int
    item: Any
    reason: str


def encode_batch(
    device: str, seq: int, sent_ms: int, readings: list[Reading], *, clock_synced: bool = True
) -> bytes:
    """Serialise a batch to its JSON payload (UTF-8, no NaN)."""
    doc: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "device": device,
        "seq": seq,
        "sent": sent_ms,
        "readings": [reading.to_wire() for reading in readings],
    }
    if not clock_synced:
        doc["clock"] = "unsynced"
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


# Every byte but the ones that open and close strings, arrays and objects.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth_exceeds(payload: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without parsing it.

    Brackets inside strings do not count. For text that is not JSON the answer holds for the
    part before the first error, which is all a decoder reads before it stops.
    """
    if b"\\" in payload:
        # An escaped quote must not end its string, nor an escaped backslash escape the quote.
        payload = payload.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Removing two adjacent quotes keeps every bracket inside or outside a string as it was, and
    # leaves only the (rare) strings that hold brackets to be cut out.
    structure = payload.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    if len(structure) <= limit:
        return False
    return max(accumulate(memoryview(structure.translate(_DEPTH_STEP)).cast("b"))) > limit


def _nonfinite(name: str) -> float:
    """Let NaN and Infinity through the parser so that only the reading holding one is refused."""
    return float(name)


_DECODER = json.JSONDecoder(parse_constant=_nonfinite)


def decode_json(payload: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse UTF-8 JSON text of bounded depth; raise ProtocolError with the reason if it is not."""
    if json_depth_exceeds(payload, max_depth):
        raise ProtocolError(f"payload is nested deeper than {max_depth} levels")
    try:
        return _DECODER.decode(payload.decode())
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"payload is not UTF-8: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"payload is not JSON: {exc.msg} at character {exc.pos}") from exc
    except ValueError as exc:
        # The interpreter refuses to convert integers of thousands of digits.
        raise ProtocolError("payload holds an integer too long to read") from exc
    except RecursionError as exc:
        # Not reached below the depth bound; kept so that no input can escape as a crash.
        raise ProtocolError(f"payload is nested deeper than {max_depth} levels") from exc


def _int_field(doc: dict[str, Any], key: str) -> int:
    """The batch field `key` if it is an integer the store can keep, else raise with the reason."""
    value = doc.get(key)
    if type(value) is not int or value < 0:
        raise ProtocolError(f"field {key!r} must be a non-negative integer")
    if value > MAX_INTEGER:
        raise ProtocolError(f"field {key!r} is larger than 2**63 - 1")
    return value


def batch_from_document(doc: object, *, max_readings: int = MAX_READINGS_PER_BATCH) -> Batch:
    """Check a decoded batch document; raise ProtocolError for anything wrong with it as a whole."""
    if type(doc) is not dict:
        raise ProtocolError("payload must be a JSON object")
    version = doc.get("v")
    # 1.0 and true compare equal to 1, and are still not the integer the protocol names.
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ProtocolError(f"unsupported schema version {brief(version)}; expected 1")
    device = check_id(doc.get("device"), "device")
    seq = _int_field(doc, "seq")
    sent = _int_field(doc, "sent")
    clock = doc.get("clock", "synced")
    if clock not in ("synced", "unsynced"):
        raise ProtocolError("field 'clock' must be 'synced' or 'unsynced'")
    readings = doc.get("readings")
    if type(readings) is not list or not readings:
        raise ProtocolError("field 'readings' must be a non-empty list")
    if len(readings) > max_readings:
        raise ProtocolError(f"{len(readings)} readings exceed the limit of {max_readings}")
    return Batch(device, seq, sent, tuple(readings), clock_synced=clock == "synced")


def decode_batch(payload: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Batch:
    """Parse a batch payload; raise ProtocolError for anything wrong with the message as a whole."""
    if len(payload) > max_bytes:
        raise ProtocolError(f"message of {len(payload)} bytes exceeds the limit of {max_bytes}")
    return batch_from_document(decode_json(payload))


def _timestamp_reason(ts: Any, sent_ms: int, shift_ms: int) -> str:
    """Why a reading's timestamp is refused."""
    if type(ts) is not int:
        return "timestamp 't' must be an integer of milliseconds"
    if ts > sent_ms + MAX_READING_LEAD_MS:
        return f"timestamp {ts} is later than the batch's send time {sent_ms}"
    if ts < sent_ms - MAX_READING_AGE_MS:
        return f"timestamp {ts} is over a year before the batch's send time {sent_ms}"
    return f"timestamp {ts + shift_ms} is outside the years 2000 to 2100"


def _value_reason(value: Any, kind: SensorKind) -> str:
    """Why a reading's value is refused."""
    if type(value) not in (int, float):
        return "value 'v' must be a number"
    if type(value) is float and not math.isfinite(value):
        return "value 'v' is not finite"
    spec = CATALOGUE[kind]
    try:
        shown = str(float(value))
    except OverflowError:
        # An integer beyond any float is out of every range; it is shown, shortened, as sent.
        shown = brief(value)
    return f"value {shown} {spec.unit} is outside {spec.low}..{spec.high} for {kind.value}"


def validate_readings(batch: Batch, shift_ms: int = 0) -> tuple[list[Reading], list[Rejected]]:
    """Split a batch into valid readings (timestamps shifted by `shift_ms`) and rejected items.

    The common case is checked with as few operations as possible (it runs for every reading);
    the precise reason is worked out only for a reading that fails.
    """
    sent = batch.sent_ms
    earliest = max(sent - MAX_READING_AGE_MS, MIN_TIMESTAMP_MS - shift_ms)
    latest = min(sent + MAX_READING_LEAD_MS, MAX_TIMESTAMP_MS - shift_ms)
    valid: list[Reading] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(batch.readings):
        reason = None
        if type(item) is not dict:
            reason = "reading must be a JSON object"
        # A kind that is not a string (a list, an object) cannot even be looked up.
        elif type(kind := item.get("k")) is not str or (bounds := KIND_BOUNDS.get(kind)) is None:
            reason = f"unknown sensor kind {brief(kind)}"
        elif type(ts := item.get("t")) is not int or not earliest <= ts <= latest:
            reason = _timestamp_reason(ts, sent, shift_ms)
        elif type(value := item.get("v")) not in (float, int) or not (
            bounds[1] <= value <= bounds[2]
        ):
            reason = _value_reason(value, bounds[0])
        else:
            sensor = item.get("s")
            if sensor is None:
                sensor = kind
            else:
                try:
                    check_id(sensor, "sensor")
                except ProtocolError as exc:
                    reason = str(exc)
            if reason is None:
                valid.append(Reading(sensor, bounds[0], ts + shift_ms, float(value)))
                continue
        rejected.append(Rejected(index, item, reason))
    return valid, rejected

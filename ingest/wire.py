"""The compiled decode of an uplink batch: the schema as msgspec types, checked in bulk.

Almost every message a worker receives is entirely valid. For those, a decoder generated from
the schema below reads the payload straight into typed records, checking in C what the
reference rules (`edge.protocol`) check in Python for every reading: the types and the batch's
integer fields. One pass over the readings then checks what depends on the batch or the kind
(the time window around the send time, each kind's value range); sensor names pass the
reference id rules once and are remembered. A message that fails anything here is not refused
here: `decode_valid` or `valid_readings` answers None and the reference path decodes it again,
so that each defect is named, per reading, in the words a device's own check would use. The
two paths therefore differ only in speed; tests/ingest/test_wire.py holds them to the same
answers on generated payloads. A valid message's records go on to the store's encoder as they
are (`storage.batch.WireReadings`): no Python object is built per reading.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from edge.protocol import (
    KIND_BOUNDS,
    MAX_INTEGER,
    MAX_READING_AGE_MS,
    MAX_READING_LEAD_MS,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    SCHEMA_VERSION,
    Batch,
    ProtocolError,
    check_id,
)
from storage.batch import WireReadings

WireCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_INTEGER)]


class WireReading(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """One reading as it is sent: time, kind, value and, when it differs from the kind, sensor."""

    t: int
    k: str
    v: float
    s: str | None = None


class WireBatch(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """One uplink batch as it is sent (`docs/protocol.md`). A field the schema does not name
    leaves the message to the reference path, which ignores it: without one, a document is
    never nested deeper than `WIRE_DEPTH`, so no depth scan needs to run first."""

    v: Literal[1]
    device: str
    seq: WireCount
    sent: WireCount
    readings: Annotated[list[WireReading], msgspec.Meta(min_length=1)]
    clock: Literal["synced", "unsynced"] = "synced"


_DECODER = msgspec.json.Decoder(WireBatch)
# The batch object, its readings list and each reading object.
WIRE_DEPTH = 3
assert SCHEMA_VERSION == 1, "WireBatch.v names the schema version"
# Ids (sensor and device names) already found valid: a fleet repeats a few thousand of them, and
# a set lookup is far cheaper than the id rules. Emptied when full, so it stays bounded.
_KNOWN_IDS: set[str] = set()
_MAX_KNOWN_IDS = 100_000


def valid_id(value: str) -> bool:
    """Whether `value` passes `edge.protocol.check_id` (remembered once it did)."""
    if value in _KNOWN_IDS:
        return True
    try:
        check_id(value, "id")
    except ProtocolError:
        return False
    if len(_KNOWN_IDS) >= _MAX_KNOWN_IDS:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.add(value)
    return True


def decode_valid(payload: bytes) -> WireBatch | None:
    """The batch if the payload is one the schema accepts; None for anything else (which the
    reference path then decodes and explains). The caller bounds the payload's size first, and
    the number of readings after."""
    try:
        wire = _DECODER.decode(payload)
    except msgspec.MsgspecError:
        return None
    return wire if valid_id(wire.device) else None


def as_batch(wire: WireBatch) -> Batch:
    """The protocol's batch of a decoded one (its readings as the typed records)."""
    return Batch(
        wire.device, wire.seq, wire.sent, tuple(wire.readings), clock_synced=wire.clock == "synced"
    )


def valid_readings(wire: WireBatch, shift_ms: int) -> WireReadings | None:
    """Every reading, timestamps shifted by `shift_ms`, if all are of a known kind, inside the
    batch's time window and their kind's range; None if any is not (the reference path then
    says which). The readings stay the decoded records: nothing is built per reading. Kinds are
    looked up by their name: hashing the enum itself runs Python code."""
    earliest = max(wire.sent - MAX_READING_AGE_MS, MIN_TIMESTAMP_MS - shift_ms)
    latest = min(wire.sent + MAX_READING_LEAD_MS, MAX_TIMESTAMP_MS - shift_ms)
    kinds, known = KIND_BOUNDS, _KNOWN_IDS
    for r in wire.readings:
        kind = kinds.get(r.k)
        if kind is None or not kind[1] <= r.v <= kind[2] or not earliest <= r.t <= latest:
            return None
        sensor = r.s
        if sensor is not None and sensor not in known and not valid_id(sensor):
            return None
    return WireReadings(wire.readings, shift_ms)

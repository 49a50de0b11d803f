"""The compiled decoder: it takes every valid batch, and parse_message answers exactly as the
reference rules alone would, whatever arrives."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import batch_documents, uplink_payloads

from edge.protocol import (
    CATALOGUE,
    MAX_ID_CHARS,
    MAX_INTEGER,
    MAX_READING_AGE_MS,
    MAX_READING_LEAD_MS,
    MIN_TIMESTAMP_MS,
    Batch,
    Channel,
    DeviceTopic,
    Reading,
    SensorKind,
    encode_batch,
)
from ingest import parse as parse_module
from ingest.parse import ParsedMessage, parse_message
from ingest.wire import decode_valid, valid_readings
from storage.batch import WireReadings, WriteBatch
from storage.influx.client import InfluxStore
from storage.sqlite.encoding import RowEncoder

SENT = 1_764_000_000_000
DEVICE = DeviceTopic("t", "s", "d")
UP = DEVICE.topic(Channel.UP)


@contextmanager
def reference_only() -> Iterator[None]:
    """parse_message with the compiled decoder switched off: the reference rules alone."""
    saved = parse_module.decode_valid
    parse_module.decode_valid = lambda _payload: None
    try:
        yield
    finally:
        parse_module.decode_valid = saved


def outcome(parsed: ParsedMessage) -> tuple[Any, ...]:
    """Everything a receiver reads of a parsed uplink message (a batch's readings as sent are
    typed records on one path and dicts on the other, so its other fields are compared)."""
    batch = parsed.batch
    head = None if batch is None else (batch.device, batch.seq, batch.sent_ms, batch.clock_synced)
    return (
        parsed.tenant,
        parsed.refusal,
        head,
        parsed.shift_ms,
        [tuple(r) for r in parsed.readings],
        [type(r.kind) for r in parsed.readings],
        parsed.rejected,
    )


def shifted(by: int) -> Any:
    """A clock correction that moves every batch by `by` ms."""
    return lambda _key, _batch: by


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    payload=uplink_payloads("d", SENT),
    shift_ms=st.sampled_from([0, 3_600_000, -5_000, -(10**15)]),
)
def test_parse_answers_as_the_reference_rules_do(payload: bytes, shift_ms: int) -> None:
    """Valid, mutated and random payloads, with and without a clock shift: the same readings,
    rejections, refusals and shift, whichever path decoded them."""
    fast = parse_message(UP, payload, shift=shifted(shift_ms))
    with reference_only():
        reference = parse_message(UP, payload, shift=shifted(shift_ms))
    event("compiled" if decode_valid(payload) is not None else "reference")
    assert outcome(fast) == outcome(reference)


@settings(max_examples=200, deadline=None)
@given(doc=batch_documents("d", SENT))
def test_the_compiled_decoder_takes_exactly_the_batches_valid_throughout(
    doc: dict[str, Any],
) -> None:
    """A batch goes to the reference path exactly when the rules reject one of its readings."""
    payload = json.dumps(doc).encode()
    with reference_only():
        reference = parse_message(UP, payload)
    wire = decode_valid(payload)
    readings = None if wire is None else valid_readings(wire, 0)
    event("some reading rejected" if reference.rejected else "all valid")
    assert (readings is not None) is (not reference.rejected)
    if readings is not None:
        assert readings == reference.readings


@settings(max_examples=300, deadline=None)
@given(
    doc=batch_documents("d", SENT),
    shift_ms=st.sampled_from([0, 3_600_000, -5_000]),
    missing=st.sampled_from([0, 3]),
)
def test_the_stores_encode_decoded_records_as_they_encode_readings(
    doc: dict[str, Any], shift_ms: int, missing: int
) -> None:
    """The records the compiled decoder leaves (no Reading built) give each store the same
    lines and rows, and a batch the same series and times, as the same readings in a list."""
    wire = decode_valid(json.dumps(doc).encode())
    decoded = None if wire is None else valid_readings(wire, shift_ms)
    if decoded is None:
        return
    assert isinstance(decoded, WireReadings)
    readings = list(decoded)
    assert all(type(r) is Reading for r in readings)
    assert [r.ts_ms for r in readings] == [r["t"] + shift_ms for r in doc["readings"]]
    # The InfluxDB store is not written to: its batches only encode what is added.
    influx = InfluxStore(httpx.Client(), "unused")
    for new_batch in (influx.new_batch, lambda: WriteBatch(RowEncoder())):
        fast, plain = new_batch(), new_batch()
        fast.add_readings(DEVICE, decoded, shift_ms, missing)
        plain.add_readings(DEVICE, readings, shift_ms, missing)
        assert fast.units == plain.units
        assert fast.series_times() == plain.series_times()
    assert decoded[-1] == readings[-1] and decoded[1:] == readings[1:]


def test_a_fleet_batch_is_read_by_the_compiled_decoder() -> None:
    """What the agent sends (encode_batch) decodes on the compiled path to the same readings."""
    kinds = list(SensorKind)
    readings = [
        Reading(f"{k.value}-{i}" if i % 2 else k.value, k, SENT - 1_000 * i, float(i % 50))
        for i, k in enumerate(kinds * 10)
    ]
    payload = encode_batch("d", 9, SENT, readings, clock_synced=False)
    wire = decode_valid(payload)
    assert wire is not None
    assert valid_readings(wire, 0) == readings
    parsed = parse_message(UP, payload)
    assert parsed.readings == readings and not parsed.rejected
    assert parsed.batch is not None and parsed.batch.clock_synced is False
    assert all(type(r) is Reading for r in parsed.readings)


def test_what_the_compiled_decoder_leaves_is_still_accepted_or_explained() -> None:
    """An unknown field, a value out of range and a sensor name with a reserved character go
    to the reference path, which keeps the valid readings and names each defect."""
    good = {"t": SENT - 1_000, "k": "air_temperature", "v": 20.5}
    cases = {
        "unknown field": ({**good, "note": "x"}, None),
        "out of range": ({**good, "v": 90.0}, "outside"),
        "reserved character": ({**good, "s": "a/b"}, "MQTT topics reserve"),
        "backslash at the end": ({**good, "s": "a\\"}, "ends with a backslash"),
        "too late": ({**good, "t": SENT + 120_000}, "later than the batch's send time"),
    }
    for name, (item, reason) in cases.items():
        doc = {"v": 1, "device": "d", "seq": 1, "sent": SENT, "readings": [good, item]}
        payload = json.dumps(doc).encode()
        wire = decode_valid(payload)
        assert wire is None or valid_readings(wire, 0) is None, name
        parsed = parse_message(UP, payload)
        assert parsed.refusal is None, name
        if reason is None:
            assert len(parsed.readings) == 2 and not parsed.rejected, name
        else:
            assert len(parsed.readings) == 1, name
            [rejected] = parsed.rejected
            assert rejected.index == 1 and reason in rejected.reason, (name, rejected.reason)


def test_the_clock_shift_is_asked_once_per_message() -> None:
    """A batch that falls back to the reference path keeps the shift the compiled path found
    (the corrector remembers each device's shift; asking twice could move it)."""
    asked: list[Batch] = []

    def shift(_key: object, batch: Batch) -> int:
        asked.append(batch)
        return 0

    good = {"t": SENT - 1_000, "k": "air_temperature", "v": 20.5}
    bad = {**good, "v": 1e9}
    for readings in ([good], [good, bad]):
        asked.clear()
        doc = {"v": 1, "device": "d", "seq": 1, "sent": SENT, "readings": readings}
        parse_message(UP, json.dumps(doc).encode(), shift=shift)
        assert len(asked) == 1


def test_the_limits_are_the_reference_limits() -> None:
    """At each limit (time window, value range, id length, an integer field's largest value)
    and one step past it, both paths agree: accepted on the compiled path, or rejected."""
    spec = CATALOGUE[SensorKind.AIR_TEMPERATURE]
    good = {"t": SENT - 1_000, "k": "air_temperature", "v": 20.5}
    readings = {
        "latest": {**good, "t": SENT + MAX_READING_LEAD_MS},
        "earliest": {**good, "t": SENT - MAX_READING_AGE_MS},
        "lowest": {**good, "v": spec.low},
        "highest": {**good, "v": spec.high},
        "longest name": {**good, "s": "x" * MAX_ID_CHARS},
    }
    past = {
        "latest": {**good, "t": SENT + MAX_READING_LEAD_MS + 1},
        "earliest": {**good, "t": SENT - MAX_READING_AGE_MS - 1},
        "lowest": {**good, "v": math.nextafter(spec.low, -math.inf)},
        "highest": {**good, "v": math.nextafter(spec.high, math.inf)},
        "longest name": {**good, "s": "x" * (MAX_ID_CHARS + 1)},
    }
    for name, item in readings.items():
        for shift_ms, bad in ((0, past[name]), (MIN_TIMESTAMP_MS, None)):
            for reading, accepted in ((item, True), (bad, False)):
                if reading is None:
                    continue
                doc = {"v": 1, "device": "d", "seq": 1, "sent": SENT, "readings": [reading]}
                payload = json.dumps(doc).encode()
                fast = parse_message(UP, payload, shift=shifted(shift_ms))
                with reference_only():
                    reference = parse_message(UP, payload, shift=shifted(shift_ms))
                assert outcome(fast) == outcome(reference), name
                wire = decode_valid(payload)
                took = wire is not None and valid_readings(wire, shift_ms) is not None
                assert took is (accepted and not reference.rejected), (name, shift_ms)
                if shift_ms == 0:
                    assert (not reference.rejected) is accepted, name
    for field, value in (("seq", MAX_INTEGER), ("sent", SENT)):
        doc = {"v": 1, "device": "d", "seq": 1, "sent": SENT, "readings": [good], field: value}
        assert decode_valid(json.dumps(doc).encode()) is not None
    doc = {"v": 1, "device": "d", "seq": MAX_INTEGER + 1, "sent": SENT, "readings": [good]}
    assert decode_valid(json.dumps(doc).encode()) is None
    assert parse_message(UP, json.dumps(doc).encode()).refusal is not None

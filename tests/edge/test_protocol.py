"""The wire protocol: topics, payload codec, catalogue and the reasons validation gives."""

from __future__ import annotations

import json
import re

import pytest

from edge.protocol import (
    CATALOGUE,
    MAX_MESSAGE_BYTES,
    Channel,
    DeviceTopic,
    Domain,
    ProtocolError,
    Reading,
    SensorKind,
    Unit,
    decode_batch,
    encode_batch,
    parse_topic,
    validate_readings,
)

SENT = 1_764_000_000_000


def test_topic_round_trip_with_japanese_site() -> None:
    """A topic built for a device parses back to the same device and channel."""
    device = DeviceTopic("nagano-city", "川上村", "lettuce-07")
    topic = device.topic(Channel.UP)
    assert topic == "shinshu/v1/nagano-city/川上村/lettuce-07/up"
    assert parse_topic(topic) == (device, Channel.UP)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("shinshu/v1/a/b/up", "is not of the form"),
        ("shinshu/v2/a/b/c/up", "is not of the form"),
        ("shinshu/v1/a/b/c/down", "unknown channel 'down'"),
        ("shinshu/v1/a//c/up", "site is empty"),
        ("shinshu/v1/a/b\x07/c/up", "control character U+0007"),
        ("shinshu/v1/a/b/c\\/up", "ends with a backslash"),
    ],
)
def test_bad_topics_are_refused_with_a_reason(topic: str, reason: str) -> None:
    """Each malformed topic names what is wrong."""
    with pytest.raises(ProtocolError, match=re.escape(reason)):
        parse_topic(topic)


def test_catalogue_covers_every_domain_with_canonical_units() -> None:
    """Forest, farm and factory kinds the issue lists are present with their units."""
    forest = {k for k, s in CATALOGUE.items() if Domain.FOREST in s.domains}
    farm = {k for k, s in CATALOGUE.items() if Domain.FARM in s.domains}
    factory = {k for k, s in CATALOGUE.items() if Domain.FACTORY in s.domains}
    assert {
        SensorKind.AIR_TEMPERATURE,
        SensorKind.RELATIVE_HUMIDITY,
        SensorKind.SOIL_MOISTURE,
        SensorKind.RAINFALL,
        SensorKind.WIND_SPEED,
        SensorKind.STEM_RADIUS,
    } <= forest
    assert {
        SensorKind.AIR_TEMPERATURE,
        SensorKind.SOIL_TEMPERATURE,
        SensorKind.RELATIVE_HUMIDITY,
        SensorKind.SOIL_MOISTURE,
        SensorKind.SOLAR_RADIATION,
        SensorKind.RAINFALL,
        SensorKind.LEAF_WETNESS,
    } <= farm
    assert {SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT} <= factory
    assert SensorKind.SOIL_MOISTURE.unit is Unit.PERCENT_VOL
    assert SensorKind.BIN_WEIGHT.unit is Unit.KILOGRAM
    assert set(CATALOGUE) == set(SensorKind)


def test_batch_round_trip() -> None:
    """Encoded readings decode and validate to the same readings."""
    readings = [
        Reading("air_temperature", SensorKind.AIR_TEMPERATURE, SENT - 2000, -3.25),
        Reading("probe-30cm", SensorKind.SOIL_MOISTURE, SENT - 1000, 31.0),
    ]
    batch = decode_batch(encode_batch("dev-1", 7, SENT, readings))
    assert (batch.device, batch.seq, batch.sent_ms, batch.clock_synced) == ("dev-1", 7, SENT, True)
    valid, rejected = validate_readings(batch)
    assert valid == readings
    assert rejected == []


def _payload(**changes: object) -> bytes:
    doc: dict[str, object] = {
        "v": 1,
        "device": "d",
        "seq": 0,
        "sent": SENT,
        "readings": [{"t": SENT, "k": "air_temperature", "v": 1.0}],
    }
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "payload is not JSON"),
        (b"[1]", "must be a JSON object"),
        (_payload(v=2), "unsupported schema version 2"),
        (_payload(device=""), "device is empty"),
        (_payload(seq=-1), "'seq' must be a non-negative integer"),
        (_payload(sent="now"), "'sent' must be a non-negative integer"),
        (_payload(readings=[]), "'readings' must be a non-empty list"),
        (_payload(clock="maybe"), "'clock' must be"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "exceeds the limit"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    """Message-level problems refuse the whole message, naming the problem."""
    with pytest.raises(ProtocolError, match=re.escape(reason)):
        decode_batch(payload)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("x", "reading must be a JSON object"),
        ({"t": SENT, "k": "laser", "v": 1}, "unknown sensor kind 'laser'"),
        ({"t": SENT, "k": "air_temperature", "v": float("nan")}, "not finite"),
        ({"t": SENT, "k": "air_temperature", "v": float("inf")}, "not finite"),
        ({"t": SENT, "k": "air_temperature", "v": True}, "must be a number"),
        ({"t": SENT, "k": "air_temperature", "v": "1"}, "must be a number"),
        ({"t": SENT, "k": "relative_humidity", "v": 120}, "outside 0..100"),
        ({"t": 1.5, "k": "air_temperature", "v": 1}, "integer of milliseconds"),
        ({"t": SENT + 3_600_000, "k": "air_temperature", "v": 1}, "later than the batch"),
        ({"t": SENT - 3 * 365 * 86_400_000, "k": "air_temperature", "v": 1}, "over a year"),
        ({"t": SENT, "k": "air_temperature", "v": 1, "s": "a\tb"}, "control character"),
    ],
)
def test_bad_readings_are_refused_alone(item: object, reason: str) -> None:
    """A bad reading is refused with its reason; the good reading next to it stays valid."""
    good = {"t": SENT, "k": "air_temperature", "v": 1.0}
    batch = decode_batch(_payload(readings=[good, item]))
    valid, rejected = validate_readings(batch)
    assert [r.value for r in valid] == [1.0]
    assert len(rejected) == 1
    assert rejected[0].index == 1
    assert reason in rejected[0].reason


def test_json_nan_literal_refuses_only_its_reading() -> None:
    """NaN written as a bare JSON literal is caught per reading, not per message."""
    payload = _payload(
        readings=[
            {"t": SENT, "k": "air_temperature", "v": 1.0},
            {"t": SENT, "k": "air_temperature", "v": 2.0},
        ]
    ).replace(b"2.0", b"NaN")
    valid, rejected = validate_readings(decode_batch(payload))
    assert len(valid) == 1
    assert "not finite" in rejected[0].reason


def test_shift_moves_timestamps_and_checks_absolute_bounds() -> None:
    """A clock shift is applied to every timestamp; results before 2000 are refused."""
    batch = decode_batch(_payload())
    valid, _ = validate_readings(batch, shift_ms=5_000)
    assert valid[0].ts_ms == SENT + 5_000
    _, rejected = validate_readings(batch, shift_ms=-SENT)
    assert "outside the years 2000 to 2100" in rejected[0].reason

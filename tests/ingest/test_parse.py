"""parse_message: every poison payload gets a reason, nothing any topic or payload holds raises."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import any_payloads, deep_json, status_payloads, uplink_payloads

from edge.protocol import (
    MAX_JSON_DEPTH,
    TOPIC_ROOT,
    Channel,
    DeviceTopic,
    ProtocolError,
    Reading,
    SensorKind,
    decode_batch,
    decode_json,
    encode_batch,
    json_depth_exceeds,
    validate_readings,
)
from edge.status import AgentState, decode_status
from ingest import parse as parse_module
from ingest.metrics import DropReason
from ingest.parse import Limits, ParsedMessage, _document, parse_message

SENT = 1_764_000_000_000
DEVICE = DeviceTopic("t", "s", "d")
UP = DEVICE.topic(Channel.UP)
STATUS = DEVICE.topic(Channel.STATUS)
GOOD = {"t": SENT - 1000, "k": "air_temperature", "v": 20.5}


def batch(readings: Any = None, **changes: Any) -> bytes:
    """A batch payload for DEVICE, with `changes` to its fields."""
    doc: dict[str, Any] = {
        "v": 1,
        "device": "d",
        "seq": 3,
        "sent": SENT,
        "readings": [GOOD] if readings is None else readings,
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def refused(parsed: ParsedMessage) -> tuple[str, DropReason]:
    """The refusal of a message expected to be refused as a whole."""
    assert parsed.refusal is not None, parsed
    assert parsed.batch is None and parsed.status is None and not parsed.readings
    return parsed.refusal.reason, parsed.refusal.why


def only_rejection(parsed: ParsedMessage) -> str:
    """The reason of the one rejected reading of a batch whose other reading is GOOD."""
    assert parsed.refusal is None, parsed.refusal
    assert [r.value for r in parsed.readings] == [20.5]
    (rejected,) = parsed.rejected
    assert rejected.index == 1
    return rejected.reason


def test_a_valid_batch_is_accepted_with_its_readings() -> None:
    """Topic, batch header and readings come back in one result."""
    readings = [
        Reading("air_temperature", SensorKind.AIR_TEMPERATURE, SENT - 2000, -3.25),
        Reading("probe-30cm", SensorKind.SOIL_MOISTURE, SENT - 1000, 31.0),
    ]
    parsed = parse_message(UP, encode_batch("d", 7, SENT, readings, clock_synced=False))
    assert parsed.refusal is None
    assert (parsed.tenant, parsed.topic, parsed.channel) == ("t", DEVICE, Channel.UP)
    assert parsed.batch is not None
    assert (parsed.batch.seq, parsed.batch.sent_ms, parsed.batch.clock_synced) == (7, SENT, False)
    assert parsed.readings == readings
    assert parsed.rejected == []


def test_the_clock_correction_is_asked_for_and_applied() -> None:
    """`shift` gets the device key and batch; the readings come back shifted."""
    asked: list[tuple[str, str, str]] = []

    def shift(key: tuple[str, str, str], _batch: object) -> int:
        """Record who asks; shift by 5 s."""
        asked.append(key)
        return 5_000

    parsed = parse_message(UP, batch(), shift=shift)
    assert asked == [("t", "s", "d")]
    assert parsed.shift_ms == 5_000
    assert parsed.readings[0].ts_ms == GOOD["t"] + 5_000


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (deep_json(2_000), f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (b"[" * 100_000, "nested deeper than"),
        (batch([GOOD, {**GOOD, "x": 0}]).replace(b'"x": 0', b'"x": ' + deep_json(2_000)), "deeper"),
        (batch({"0": GOOD}), "'readings' must be a non-empty list"),
        (batch("readings"), "'readings' must be a non-empty list"),
        (batch(v=1.0), "unsupported schema version 1.0"),
        (batch(v=True), "unsupported schema version True"),
        (batch(v="1"), "unsupported schema version '1'"),
        (batch(v=None), "unsupported schema version None"),
        (batch(seq=2**64 + 1), "'seq' is larger than 2**63 - 1"),
        (batch(sent=2**64 + 1), "'sent' is larger than 2**63 - 1"),
        (batch(seq=1.0), "'seq' must be a non-negative integer"),
        (batch(seq=True), "'seq' must be a non-negative integer"),
        (batch(seq="9" * 5_000).replace(b'"' + b"9" * 5_000 + b'"', b"9" * 5_000), "too long"),
        (b"\xc3\x28 not UTF-8", "payload is not UTF-8"),
        (b"\xef\xbb\xbf" + batch(), "payload is not JSON"),
        (batch()[:-1], "payload is not JSON"),
        (b"", "payload is not JSON"),
        (b"[1]", "must be a JSON object"),
        (batch(device=["d"]), "device must be a string"),
        (batch(device="other"), "device 'other' in the payload differs from 'd' in the topic"),
    ],
)
def test_poison_messages_are_refused_whole_with_a_reason(payload: bytes, reason: str) -> None:
    """Each kind of poison names itself; none raises."""
    text, why = refused(parse_message(UP, payload))
    assert reason in text
    assert why is DropReason.INVALID_MESSAGE


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**GOOD, "k": ["air_temperature"]}, "unknown sensor kind ['air_temperature']"),
        ({**GOOD, "k": {"air_temperature": 1}}, "unknown sensor kind {'air_temperature': 1}"),
        ({**GOOD, "k": None}, "unknown sensor kind None"),
        ({**GOOD, "k": 7}, "unknown sensor kind 7"),
        ({**GOOD, "k": "laser"}, "unknown sensor kind 'laser'"),
        ({**GOOD, "v": 10**400}, "is outside -60..70 for air_temperature"),
        ({**GOOD, "v": 2**64 + 1}, "value 1.8446744073709552e+19 °C is outside"),
        ({**GOOD, "t": 2**64 + 1}, "timestamp 18446744073709551617 is later than"),
        ({**GOOD, "t": -(2**64)}, "over a year before"),
        ({**GOOD, "v": [1.0]}, "value 'v' must be a number"),
        ({**GOOD, "s": "\ud800"}, "unpaired surrogate U+D800"),
        ({**GOOD, "s": ["probe"]}, "sensor must be a string"),
        ([GOOD], "reading must be a JSON object"),
    ],
)
def test_poison_readings_are_refused_alone(item: object, reason: str) -> None:
    """A bad reading is rejected with its reason, the good one beside it accepted."""
    assert reason in only_rejection(parse_message(UP, batch([GOOD, item])))


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_values_are_refused_per_reading(literal: bytes) -> None:
    """Numbers msgspec will not read are still refused only in their reading."""
    payload = batch([GOOD, {**GOOD, "v": 5.5}]).replace(b"5.5", literal)
    assert only_rejection(parse_message(UP, payload)) == "value 'v' is not finite"


def test_an_oversized_payload_is_refused_without_being_read() -> None:
    """10 MB gets its own label; the reason keeps the limit."""
    text, why = refused(parse_message(UP, b"[" * 10_000_000))
    assert text == "message of 10000000 bytes exceeds the limit of 262144"
    assert why is DropReason.OVERSIZED
    text, _ = refused(parse_message(UP, batch(), Limits(max_message_bytes=50)))
    assert "exceeds the limit of 50" in text


def status(**changes: Any) -> bytes:
    """A status payload for DEVICE, with `changes` to its fields."""
    doc: dict[str, Any] = {"v": 1, "device": "d", "state": "online"}
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (status(device=["d"]), "no device id"),
        (status(state=["online"]), "unknown agent state ['online']"),
        (status(v=1.0), "v = 1"),
        (status(v=True), "v = 1"),
        (status(device="e"), "device 'e' in the status differs from 'd'"),
        (status(x="DEEP").replace(b'"DEEP"', deep_json(2_000)), "nested deeper"),
        (status(time=2**64 + 1), "'time' is larger than 2**63 - 1"),
        (status(version="a\nb"), "'version' must be a short string of printable text"),
        (status(spool={"readings": 1.5}).replace(b"1.5", b"1e400"), "non-negative integer"),
        (status(spool=[]), "must be objects"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_poison_status_messages_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    """A malformed status is refused as a whole, under its own label."""
    text, why = refused(parse_message(STATUS, payload))
    assert reason in text
    assert why is DropReason.INVALID_STATUS


def test_an_oversized_status_is_refused_as_oversized() -> None:
    """A status has a smaller limit than a batch."""
    text, why = refused(parse_message(STATUS, b" " * 70_000))
    assert text == "status of 70000 bytes exceeds the limit of 65536"
    assert why is DropReason.OVERSIZED


def test_a_valid_status_is_accepted() -> None:
    """The agent's figures come back in the report."""
    payload = b'{"v":1,"device":"d","state":"online","spool":{"readings":3,"dropped":1}}'
    parsed = parse_message(STATUS, payload)
    assert parsed.refusal is None and parsed.channel is Channel.STATUS
    assert parsed.status is not None and parsed.status.state is AgentState.ONLINE
    assert (parsed.status.spool_readings, parsed.status.spool_dropped) == (3, 1)


@pytest.mark.parametrize(
    ("topic", "tenant", "reason"),
    [
        ("", None, "is not of the form"),
        ("shinshu/v1/t-x/too/short", "t-x", "is not of the form"),
        ("shinshu/v1/t/s/d/telemetry", "t", "unknown channel 'telemetry'"),
        ("shinshu/v1/\ud800/s/d/up", None, "unpaired surrogate"),
        ("shinshu/v1/" + "x" * 70_000, None, "is not of the form"),
    ],
)
def test_bad_topics_are_refused_and_routed_to_their_tenant(
    topic: str, tenant: str | None, reason: str
) -> None:
    """The tenant of a malformed topic is kept only when it is a valid id; reasons stay short."""
    parsed = parse_message(topic, batch())
    text, why = refused(parsed)
    assert reason in text and len(text) < 400
    assert why is DropReason.INVALID_MESSAGE
    assert parsed.tenant == tenant


def test_config_messages_are_accepted_and_carry_nothing() -> None:
    """Downlink configuration is nobody's business in ingest."""
    parsed = parse_message(DEVICE.topic(Channel.CONFIG), b"\xff anything")
    assert parsed.refusal is None and parsed.batch is None and parsed.status is None


def test_a_bug_in_a_check_refuses_the_message_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_message does not raise even when its own code does."""

    def broken(*_args: object) -> object:
        """A check with a bug."""
        raise RuntimeError("boom")

    # Both paths: the compiled one that takes a valid batch, the reference one for the rest.
    for check, payload in (("valid_readings", batch()), ("validate_readings", batch([1]))):
        with monkeypatch.context() as patch:
            patch.setattr(parse_module, check, broken)
            text, why = refused(parse_message(UP, payload))
        assert text == "internal error: RuntimeError: boom"
        assert why is DropReason.FAILED


def test_the_depth_scan_ignores_brackets_inside_strings() -> None:
    """Brackets and escaped quotes inside strings neither nest nor hide nesting."""
    assert not json_depth_exceeds(json.dumps(["[" * 100, '\\"[' * 100, {"a": "{"}]).encode(), 3)
    assert json_depth_exceeds(json.dumps(['\\"]' * 100, [[[[1]]]]]).encode(), 3)
    # A string that tries to close the brackets before it does not count either.
    assert json_depth_exceeds(b'["]",' * 40 + b"1" + b"]" * 40, 32)
    assert not json_depth_exceeds(deep_json(MAX_JSON_DEPTH), MAX_JSON_DEPTH)
    assert json_depth_exceeds(deep_json(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)


def nesting(value: object) -> int:
    """How deeply a decoded JSON value nests arrays and objects."""
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


_TRICKY_TEXT = st.text(st.sampled_from('[]{}"\\\\ab'), max_size=6)
_TRICKY_JSON = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_TEXT, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, database=None)
@given(doc=_TRICKY_JSON, limit=st.integers(0, 8), ensure_ascii=st.booleans())
def test_the_depth_scan_is_exact_for_json(doc: object, limit: int, ensure_ascii: bool) -> None:
    """Strings full of brackets, quotes and backslashes never change the depth found."""
    text = json.dumps(doc, ensure_ascii=ensure_ascii).encode()
    assert json_depth_exceeds(text, limit) == (nesting(doc) > limit)


_IDS = st.text(min_size=1, max_size=6) | st.sampled_from(["t", "s", "d"])
_TOPICS = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda t, s, d, c: f"shinshu/v1/{t}/{s}/{d}/{c}",
        _IDS,
        _IDS,
        _IDS,
        st.sampled_from(["up", "status", "config"]) | st.text(max_size=5),
    ),
)


@settings(
    max_examples=1_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    message=st.one_of(
        st.tuples(st.just(UP), uplink_payloads("d", SENT)),
        st.tuples(st.just(STATUS), status_payloads("d")),
        st.tuples(_TOPICS, any_payloads() | uplink_payloads("d", SENT)),
    )
)
def test_parse_message_never_raises_and_always_answers(message: tuple[str, bytes]) -> None:
    """Every input is either accepted (every reading accepted or rejected) or has a reason."""
    topic, payload = message
    parsed = parse_message(topic, payload)
    event(f"{parsed.channel} {parsed.refusal.why if parsed.refusal else 'accepted'}")
    if parsed.refusal is not None:
        assert parsed.refusal.reason
        # An internal error would be a bug in the checks, not a property of the input.
        assert parsed.refusal.why is not DropReason.FAILED, parsed.refusal
        return
    assert parsed.topic is not None and parsed.channel is not None
    if parsed.channel is Channel.UP:
        assert parsed.batch is not None
        assert len(parsed.readings) + len(parsed.rejected) == len(parsed.batch.readings)
        assert all(rejected.reason for rejected in parsed.rejected)
        assert all(math.isfinite(reading.value) for reading in parsed.readings)
    elif parsed.channel is Channel.STATUS:
        assert parsed.status is not None


@settings(max_examples=300, deadline=None, database=None)
@given(payload=uplink_payloads("d", SENT) | status_payloads("d"))
def test_the_fast_decoder_agrees_with_the_reference(payload: bytes) -> None:
    """Whatever msgspec reads, it reads as the protocol's standard-library decoder does."""
    try:
        expected: object = decode_json(payload)
    except ProtocolError as exc:
        expected = f"refused: {exc}"
    try:
        found: object = _document(payload, MAX_JSON_DEPTH)
    except ProtocolError as exc:
        found = f"refused: {exc}"
    # repr tells 1 from 1.0 and True, which == does not.
    assert repr(found) == repr(expected)


def edge_answer(topic: str, payload: bytes) -> tuple[str, ...]:
    """What the edge's reference decoder says of a message to DEVICE, in a comparable form."""
    try:
        if topic == STATUS:
            report = decode_status(payload)
            if report.device != "d":
                return ("refused", "differs")
            return ("status", repr(report))
        batch_ = decode_batch(payload)
        if batch_.device != "d":
            return ("refused", "differs")
        valid, rejected = validate_readings(batch_)
    except ProtocolError as exc:
        return ("refused", str(exc))
    return ("batch", repr(valid), repr([(r.index, r.reason) for r in rejected]))


def server_answer(topic: str, payload: bytes) -> tuple[str, ...]:
    """What parse_message says of it, in the same form."""
    parsed = parse_message(topic, payload)
    if parsed.refusal is not None:
        reason = parsed.refusal.reason
        return ("refused", "differs" if "differs from" in reason else reason)
    if parsed.status is not None:
        return ("status", repr(parsed.status))
    rejected = [(r.index, r.reason) for r in parsed.rejected]
    return ("batch", repr(list(parsed.readings)), repr(rejected))


POISON_PAYLOADS = [
    deep_json(2_000),
    b"[" * 100_000,
    batch([GOOD, {**GOOD, "k": ["air_temperature"]}, {**GOOD, "k": {"a": 1}}, {**GOOD, "k": None}]),
    batch({"0": GOOD}),
    batch([GOOD, {**GOOD, "v": 5.5}]).replace(b"5.5", b"1e400"),
    batch([GOOD, {**GOOD, "v": 5.5}]).replace(b"5.5", b"NaN"),
    batch([GOOD, {**GOOD, "v": 10**400, "t": 2**64 + 1}, {**GOOD, "v": 2**64}]),
    batch(seq=2**64 + 1),
    batch(sent=2**64 + 1),
    batch(seq=0).replace(b'"seq": 0', b'"seq": ' + b"9" * 5_000),
    b"\xff" + batch(),
    batch(v=1.0),
    batch(v=True),
    batch([GOOD, {**GOOD, "s": "\ud800"}]),
]


@pytest.mark.parametrize("payload", POISON_PAYLOADS)
def test_the_edge_decoder_answers_poison_as_the_server_does(payload: bytes) -> None:
    """The standard-library reference gives each poison the same reason, and never crashes."""
    assert edge_answer(UP, payload) == server_answer(UP, payload)


@settings(max_examples=300, deadline=None, database=None)
@given(
    message=st.tuples(st.just(UP), uplink_payloads("d", SENT))
    | st.tuples(st.just(STATUS), status_payloads("d"))
)
def test_parse_message_agrees_with_the_edge_reference(message: tuple[str, bytes]) -> None:
    """Device and server accept, reject and explain every generated message alike."""
    assert edge_answer(*message) == server_answer(*message)


def test_the_tenant_of_a_malformed_topic_is_read_after_the_protocol_root() -> None:
    """Dead letters of a refused topic still go to its tenant when that level is a valid id."""
    assert parse_module.tenant_of(f"{TOPIC_ROOT}/acme") == "acme"
    assert parse_module.tenant_of(f"{TOPIC_ROOT}/acme/site/too/many/levels") == "acme"
    assert parse_module.tenant_of(f"{TOPIC_ROOT}/") is None
    assert parse_module.tenant_of(TOPIC_ROOT) is None
    assert parse_module.tenant_of("other/v1/acme/s/d/up") is None
    assert parse_module.tenant_of(f"{TOPIC_ROOT}/a+b/s/d/up") is None

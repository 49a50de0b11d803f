"""The server's one decode of a device message: topic, payload, readings and every reason.

`parse_message` never raises, whatever the topic and the bytes: each message comes back either
accepted (with its batch or status) or with the reason it is refused and the metric label for
it. The rules are those of the protocol's reference implementation (`edge.protocol`,
`edge.status`); what differs is the JSON decoder. msgspec reads well-formed payloads in half
the time the standard library takes, but like it recurses (and raises RecursionError) on
nesting a thousand deep: a scan of the payload's brackets, cheaper than either decoder, bounds
the depth before any decoder runs. Input msgspec refuses is handed to the reference decoder,
which accepts what the protocol tolerates (a NaN or 1e400 in a reading is refused per reading,
not per message) and otherwise names the defect in the same words a device's own check would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from edge.protocol import (
    MAX_JSON_DEPTH,
    MAX_MESSAGE_BYTES,
    MAX_READINGS_PER_BATCH,
    TOPIC_ROOT,
    Batch,
    Channel,
    DeviceTopic,
    ProtocolError,
    Reading,
    Rejected,
    batch_from_document,
    brief,
    check_id,
    decode_json,
    json_depth_exceeds,
    parse_topic,
    validate_readings,
)
from edge.status import MAX_STATUS_BYTES, StatusReport, status_from_document
from ingest.metrics import DropReason
from ingest.wire import WIRE_DEPTH, as_batch, decode_valid, valid_readings

log = logging.getLogger(__name__)

DeviceKey = tuple[str, str, str]
# How far to shift a batch's timestamps (ingest.clock.SkewCorrector.shift_for).
ShiftFor = Callable[[DeviceKey, Batch], int]

_INTERNAL_ERROR_CHARS = 300
_JSON = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Limits:
    """How large and how deeply nested a message may be."""

    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_status_bytes: int = MAX_STATUS_BYTES
    max_readings: int = MAX_READINGS_PER_BATCH
    max_depth: int = MAX_JSON_DEPTH


DEFAULT_LIMITS = Limits()


class Refusal(NamedTuple):
    """Why a whole message is refused, and the metric label it is counted under."""

    reason: str
    why: DropReason


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """Everything a receiver needs of one message; `refusal` is None when it was accepted.

    An accepted `up` message has `batch`, its valid `readings` (timestamps already shifted by
    `shift_ms`) and the `rejected` items; an accepted `status` message has `status`; a `config`
    message (downlink, nothing to store) has neither.
    """

    tenant: str | None
    topic: DeviceTopic | None = None
    channel: Channel | None = None
    refusal: Refusal | None = None
    batch: Batch | None = None
    shift_ms: int = 0
    readings: Sequence[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    status: StatusReport | None = None


def internal_error(exc: BaseException) -> str:
    """The reason given for a message whose handling raised unexpectedly."""
    try:
        text = str(exc)
    except Exception:  # an exception whose own text fails must not fail its handler
        text = "(no description)"
    reason = f"internal error: {type(exc).__name__}: {text}"
    return reason[:_INTERNAL_ERROR_CHARS]


_TENANT_PREFIX = f"{TOPIC_ROOT}/"


def tenant_of(topic: str) -> str | None:
    """The tenant level of a (possibly malformed) topic, if it is a valid id; else None."""
    if not topic.startswith(_TENANT_PREFIX):
        return None
    tenant = topic[len(_TENANT_PREFIX) :].split("/", 1)[0]
    try:
        return check_id(tenant, "tenant")
    except ProtocolError:
        return None


def parse_message(
    topic: str,
    payload: bytes,
    limits: Limits = DEFAULT_LIMITS,
    *,
    shift: ShiftFor | None = None,
) -> ParsedMessage:
    """Decode and check one message; never raises (a bug refuses the message as `failed`).

    `shift`, when given, decides the clock correction of an accepted batch from its device and
    send time; readings are validated with it.
    """
    try:
        return _parse(topic, payload, limits, shift)
    except Exception as exc:
        # A bug in a check must cost this one message, never the service.
        log.exception("failed to parse a message on %r", topic)
        return refused_by_bug(topic, exc)


def refused_by_bug(topic: str, exc: BaseException) -> ParsedMessage:
    """What a message whose handling raised comes to: refused as `failed`, with the reason."""
    try:
        tenant = tenant_of(topic)
    except Exception:
        tenant = None
    return ParsedMessage(tenant, refusal=Refusal(internal_error(exc), DropReason.FAILED))


def _parse(topic: str, payload: bytes, limits: Limits, shift: ShiftFor | None) -> ParsedMessage:
    """parse_message without its safety net: the topic first, then the channel's payload."""
    try:
        device_topic, channel = parse_topic(topic)
    except ProtocolError as exc:
        refusal = Refusal(str(exc), DropReason.INVALID_MESSAGE)
        return ParsedMessage(tenant_of(topic), refusal=refusal)
    if channel is Channel.UP:
        return _parse_up(device_topic, payload, limits, shift)
    if channel is Channel.STATUS:
        return _parse_status(device_topic, payload, limits)
    return ParsedMessage(device_topic.tenant, device_topic, channel)


def _document(payload: bytes, max_depth: int) -> Any:
    """The payload's JSON value; ProtocolError with the reason if it has none within bounds."""
    if json_depth_exceeds(payload, max_depth):
        raise ProtocolError(f"payload is nested deeper than {max_depth} levels")
    try:
        return _JSON.decode(payload)
    except msgspec.MsgspecError:
        # Not UTF-8 or not JSON, or a NaN, 1e400 or lone surrogate msgspec will not read: the
        # reference decoder accepts what the protocol tolerates, else it names the defect.
        return decode_json(payload, max_depth=max_depth)


def _parse_up(
    topic: DeviceTopic, payload: bytes, limits: Limits, shift: ShiftFor | None
) -> ParsedMessage:
    """An uplink batch: accepted with its readings split into valid and rejected, or refused.

    The compiled decoder takes a batch that is valid throughout; anything else is decoded again
    by the reference rules, which name each defect (with the clock shift found once).
    """
    tenant = topic.tenant
    if len(payload) > limits.max_message_bytes:
        reason = f"message of {len(payload)} bytes exceeds the limit of {limits.max_message_bytes}"
        return ParsedMessage(tenant, topic, Channel.UP, Refusal(reason, DropReason.OVERSIZED))
    key = (tenant, topic.site, topic.device)
    shift_ms: int | None = None
    wire = decode_valid(payload) if limits.max_depth >= WIRE_DEPTH else None
    if (
        wire is not None
        and wire.device == topic.device
        and len(wire.readings) <= limits.max_readings
    ):
        batch = as_batch(wire)
        shift_ms = 0 if shift is None else shift(key, batch)
        valid = valid_readings(wire, shift_ms)
        if valid is not None:
            return ParsedMessage(
                tenant, topic, Channel.UP, batch=batch, shift_ms=shift_ms, readings=valid
            )
    try:
        document = _document(payload, limits.max_depth)
        batch = batch_from_document(document, max_readings=limits.max_readings)
        if batch.device != topic.device:
            raise ProtocolError(
                f"device {batch.device!r} in the payload differs from {topic.device!r} in the topic"
            )
    except ProtocolError as exc:
        refusal = Refusal(str(exc), DropReason.INVALID_MESSAGE)
        return ParsedMessage(tenant, topic, Channel.UP, refusal)
    if shift_ms is None:
        shift_ms = 0 if shift is None else shift(key, batch)
    readings, rejected = validate_readings(batch, shift_ms)
    return ParsedMessage(
        tenant,
        topic,
        Channel.UP,
        batch=batch,
        shift_ms=shift_ms,
        readings=readings,
        rejected=rejected,
    )


def _parse_status(topic: DeviceTopic, payload: bytes, limits: Limits) -> ParsedMessage:
    """A device status: accepted with its report, or refused."""
    tenant = topic.tenant
    if len(payload) > limits.max_status_bytes:
        reason = f"status of {len(payload)} bytes exceeds the limit of {limits.max_status_bytes}"
        return ParsedMessage(tenant, topic, Channel.STATUS, Refusal(reason, DropReason.OVERSIZED))
    try:
        report = status_from_document(_document(payload, limits.max_depth))
        if report.device != topic.device:
            raise ProtocolError(
                f"device {brief(report.device)} in the status differs from {topic.device!r}"
            )
    except ProtocolError as exc:
        refusal = Refusal(str(exc), DropReason.INVALID_STATUS)
        return ParsedMessage(tenant, topic, Channel.STATUS, refusal)
    return ParsedMessage(tenant, topic, Channel.STATUS, status=report)

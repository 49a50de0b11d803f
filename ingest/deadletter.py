"""Dead letters: rejected input goes to `shinshu/deadletter/{tenant}` with its reason."""

from __future__ import annotations

import base64
import codecs
import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from edge.protocol import MAX_MESSAGE_BYTES, Batch, Rejected, dead_letter_topic
from ingest.metrics import DropReason, IngestMetrics
from ingest.parse import ParsedMessage
from ingest.sources.mqtt import Delivery, InMessage, MessageSource

log = logging.getLogger(__name__)

# An oversized payload is kept as this much of its beginning, with its length and digest.
PREFIX_BYTES = 1024


def _plain(item: Any) -> Any:
    """A JSON-safe copy: non-finite numbers become strings so the record stays valid JSON."""
    if isinstance(item, float) and not math.isfinite(item):
        return str(item)
    if isinstance(item, dict):
        return {str(k): _plain(v) for k, v in item.items()}
    if isinstance(item, list | tuple):
        return [_plain(v) for v in item]
    return item


def _text_or_base64(data: bytes) -> dict[str, Any]:
    """A payload as text if it is UTF-8, else as base64, with its encoding named."""
    try:
        return {"payload": data.decode(), "payload_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(data).decode(), "payload_encoding": "base64"}


def _prefix_fields(payload: bytes) -> dict[str, Any]:
    """The start of a payload too large to copy, with what identifies the whole of it."""
    prefix = payload[:PREFIX_BYTES]
    try:
        # A character cut in two at the end of the prefix is left out rather than turning the
        # whole prefix into base64.
        text = codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
        fields: dict[str, Any] = {"payload": text, "payload_encoding": "utf-8"}
        prefix_bytes = len(text.encode())
    except UnicodeDecodeError:
        fields = {"payload": base64.b64encode(prefix).decode(), "payload_encoding": "base64"}
        prefix_bytes = len(prefix)
    return {
        **fields,
        "payload_truncated": True,
        "payload_prefix_bytes": prefix_bytes,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }


def _encode(record: dict[str, Any]) -> bytes:
    """A record as UTF-8 JSON."""
    text = json.dumps(_plain(record), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (from a JSON escape in the input) has no UTF-8: escape everything.
        return json.dumps(_plain(record), allow_nan=False).encode()


class DeadLetters:
    """Publishes dead-letter records; the caller keeps each delivery to wait for it."""

    def __init__(
        self,
        source: MessageSource,
        metrics: IngestMetrics,
        *,
        max_copy_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        """Publish through `source`; count in `metrics`; copy payloads up to `max_copy_bytes`."""
        self._source = source
        self._metrics = metrics
        self._max_copy_bytes = max_copy_bytes

    def _payload_fields(self, payload: bytes, why: DropReason) -> dict[str, Any]:
        """The payload in full, or for an oversized one its start, length and digest."""
        if why is DropReason.OVERSIZED or len(payload) > self._max_copy_bytes:
            return _prefix_fields(payload)
        return _text_or_base64(payload)

    def _send(self, message: InMessage, tenant: str | None, record: dict[str, Any]) -> Delivery:
        """Publish a record to the tenant's dead-letter topic."""
        try:
            body = _encode(record)
        except (TypeError, ValueError, RecursionError) as exc:
            # The letter must go out even if an item in it cannot be written as JSON.
            log.error(
                "a dead letter of %r is not encodable (%s); sending it without items",
                message.topic,
                exc,
            )
            fallback = {
                **self._base(message),
                "reason": record.get("reason", "rejected readings"),
                "encoding_error": str(exc)[:200],
                **self._payload_fields(message.payload, DropReason.FAILED),
            }
            body = _encode(fallback)
        return self._source.publish(dead_letter_topic(tenant), body)

    def _base(self, message: InMessage) -> dict[str, Any]:
        received = datetime.fromtimestamp(message.received, UTC)
        return {
            "source_topic": message.topic,
            "received": received.isoformat(timespec="milliseconds"),
        }

    def reject_message(
        self,
        message: InMessage,
        tenant: str | None,
        reason: str,
        why: DropReason = DropReason.INVALID_MESSAGE,
    ) -> Delivery:
        """The whole message is refused: publish it (if oversized, its start) with the reason."""
        log.warning("dead letter (%s): %s (topic %r)", why.value, reason, message.topic)
        self._metrics.dead_lettered.labels(why.value).inc()
        record = {
            **self._base(message),
            "reason": reason,
            **self._payload_fields(message.payload, why),
        }
        return self._send(message, tenant, record)

    def reject_parsed(self, message: InMessage, parsed: ParsedMessage) -> Delivery | None:
        """The one dead letter a parsed message needs: the whole of it, or its rejected readings.

        None when nothing in it was refused.
        """
        if parsed.refusal is not None:
            reason, why = parsed.refusal
            return self.reject_message(message, parsed.tenant, reason, why)
        if parsed.rejected and parsed.batch is not None and parsed.tenant is not None:
            return self.reject_readings(
                message,
                parsed.tenant,
                parsed.rejected,
                DropReason.INVALID_READING,
                batch_context(parsed.batch),
            )
        return None

    def reject_readings(
        self,
        message: InMessage,
        tenant: str,
        rejected: Sequence[Rejected],
        why: DropReason,
        context: dict[str, Any],
    ) -> Delivery:
        """Some readings of a message are refused: publish each with its index and reason."""
        log.warning(
            "dead letter: %d reading(s) of %r, first: %s",
            len(rejected),
            message.topic,
            rejected[0].reason,
        )
        self._metrics.dead_lettered.labels(why.value).inc(len(rejected))
        items = [{"index": r.index, "reading": r.item, "reason": r.reason} for r in rejected]
        return self._send(message, tenant, {**self._base(message), **context, "rejected": items})


def batch_context(batch: Batch) -> dict[str, object]:
    """What a dead letter of some readings says of the batch they came in."""
    return {"device": batch.device, "seq": batch.seq, "sent": batch.sent_ms}


def wait_delivered(deliveries: list[Delivery], timeout: float) -> bool:
    """Wait until the broker acknowledged every delivery; False if some are still out."""
    deadline = time.monotonic() + timeout
    while True:
        # Polled: paho's wait_for_publish raises while the connection is down.
        deliveries[:] = [d for d in deliveries if not d.is_published()]
        if not deliveries:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)

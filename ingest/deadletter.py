"""Dead letters: rejected input goes to `shinshu/deadletter/{tenant}` with its reason."""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from edge.protocol import Rejected, dead_letter_topic
from ingest.metrics import DropReason, IngestMetrics
from ingest.sources.mqtt import Delivery, InMessage, MessageSource

log = logging.getLogger(__name__)


def _plain(item: Any) -> Any:
    """A JSON-safe copy: non-finite numbers become strings so the record stays valid JSON."""
    if isinstance(item, float) and not math.isfinite(item):
        return str(item)
    if isinstance(item, dict):
        return {str(k): _plain(v) for k, v in item.items()}
    if isinstance(item, list | tuple):
        return [_plain(v) for v in item]
    return item


def _payload_fields(payload: bytes) -> dict[str, str]:
    try:
        return {"payload": payload.decode(), "payload_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(payload).decode(), "payload_encoding": "base64"}


class DeadLetters:
    """Publishes dead-letter records; the caller keeps each delivery to wait for it."""

    def __init__(self, source: MessageSource, metrics: IngestMetrics) -> None:
        """Publish through `source`; count in `metrics`."""
        self._source = source
        self._metrics = metrics

    def _send(self, tenant: str | None, record: dict[str, Any]) -> Delivery:
        body = json.dumps(_plain(record), ensure_ascii=False, allow_nan=False).encode()
        return self._source.publish(dead_letter_topic(tenant), body)

    def _base(self, message: InMessage) -> dict[str, Any]:
        received = datetime.fromtimestamp(message.received, UTC)
        return {
            "source_topic": message.topic,
            "received": received.isoformat(timespec="milliseconds"),
        }

    def reject_message(self, message: InMessage, tenant: str | None, reason: str) -> Delivery:
        """The whole message is refused: publish it with the reason."""
        log.warning("dead letter: %s (topic %r)", reason, message.topic)
        self._metrics.dead_lettered.labels(DropReason.INVALID_MESSAGE.value).inc()
        return self._send(
            tenant, {**self._base(message), "reason": reason, **_payload_fields(message.payload)}
        )

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
        return self._send(tenant, {**self._base(message), **context, "rejected": items})


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

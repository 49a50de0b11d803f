"""Prometheus metrics of ingest (every stored, refused and retried reading), and of any consumer."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.metrics import Readiness, serve_metrics


class DropReason(StrEnum):
    """Why readings went to the dead-letter topic instead of the store (a bounded label set)."""

    # A whole uplink message (or its topic) breaks the protocol.
    INVALID_MESSAGE = "invalid_message"
    INVALID_READING = "invalid_reading"
    STORE_REJECTED = "store_rejected"
    # Over the size limit: the letter carries a prefix and a digest, not the payload.
    OVERSIZED = "oversized"
    INVALID_STATUS = "invalid_status"
    # An unexpected error while handling the message: a bug, counted instead of a crash.
    FAILED = "failed"


@dataclass
class ServiceMetrics:
    """What every consumer service counts (ingest, alerts), under its own name prefix."""

    # The metric names' prefix, the setting that holds the port, and what a message is.
    PREFIX: ClassVar[str]
    PORT_SETTING: ClassVar[str]
    MESSAGES_HELP: ClassVar[str]

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        """Create the metrics in this instance's registry."""
        r, prefix = self.registry, self.PREFIX
        self.messages = Counter(f"{prefix}_messages", self.MESSAGES_HELP, registry=r)
        self.unacked = Gauge(
            f"{prefix}_unacked_messages",
            "Messages received and not yet acknowledged to the broker",
            registry=r,
        )
        self.subscribed = Gauge(
            f"{prefix}_subscribed", "1 once the subscription is in place", registry=r
        )

    def acknowledged(self, *, downlink: bool) -> None:
        """Count one message acknowledged to the broker."""
        self.messages.inc()

    def serve(self, port: int, host: str, ready: Readiness) -> None:
        """Expose /metrics, /healthz and /readyz on `port` (0 leaves it off)."""
        serve_metrics(self.registry, port, host, self.PORT_SETTING, ready)


@dataclass
class IngestMetrics(ServiceMetrics):
    """The worker's counters and gauges in their own registry."""

    PREFIX = "shinshu_ingest"
    PORT_SETTING = "SHINSHU_INGEST_METRICS_PORT"
    MESSAGES_HELP = "Device messages (readings, status) dealt with and acknowledged"

    def __post_init__(self) -> None:
        """Create the metrics in this instance's registry."""
        super().__post_init__()
        r = self.registry
        self.downlink = Counter(
            "shinshu_ingest_downlink_messages",
            "Configuration and receipt messages on the subscription, acknowledged unread",
            registry=r,
        )
        self.stored = Counter(
            "shinshu_ingest_readings_stored", "Readings the store accepted", registry=r
        )
        self.dead_lettered = Counter(
            "shinshu_ingest_readings_dead_lettered",
            "Readings (or whole messages) sent to the dead-letter topic",
            ["reason"],
            registry=r,
        )
        for reason in DropReason:
            self.dead_lettered.labels(reason.value)
        self.statuses = Counter(
            "shinshu_ingest_status_messages", "Device status messages stored", registry=r
        )
        self.receipts = Counter(
            "shinshu_ingest_receipts_sent",
            "Receipts that told a device its batches are stored (one per device and write)",
            registry=r,
        )
        self.retries = Counter(
            "shinshu_ingest_store_retries", "Store writes that failed and were retried", registry=r
        )
        self.shifted = Counter(
            "shinshu_ingest_clock_shifted_batches",
            "Batches whose timestamps were shifted to correct a device clock",
            registry=r,
        )
        self.sequence_gaps = Counter(
            "shinshu_ingest_sequence_gaps",
            "Batches a device numbered that never arrived (0 in a shared group: not counted)",
            registry=r,
        )
        self.store_up = Gauge(
            "shinshu_ingest_store_up", "1 while the last store write succeeded", registry=r
        )
        self.write_seconds = Histogram(
            "shinshu_ingest_write_seconds", "Duration of one store write", registry=r
        )
        self.receive_to_stored = Histogram(
            "shinshu_ingest_receive_to_stored_seconds",
            "From a message's arrival at this worker to the store accepting its readings",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.device_spool_dropped = Counter(
            "shinshu_ingest_device_spool_dropped_readings",
            "Readings devices report they dropped from full spools (by tenant)",
            ["tenant"],
            registry=r,
        )

    def acknowledged(self, *, downlink: bool) -> None:
        """Count one message acknowledged: a device's, or a downlink one read past."""
        (self.downlink if downlink else self.messages).inc()

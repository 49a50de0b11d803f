"""Prometheus metrics of the alerts service: every message, alert and dropped reading is counted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import Counter, Gauge, Histogram

from ingest.metrics import ServiceMetrics
from storage.alert_types import AlertKind


class SkipReason(StrEnum):
    """Why a message or reading was not run through the detectors (a bounded label set)."""

    BAD_MESSAGE = "bad_message"
    INVALID_READING = "invalid_reading"
    UNPAIRED = "unpaired"
    LATE = "late"
    FAILED = "failed"


@dataclass
class AlertMetrics(ServiceMetrics):
    """The service's counters and gauges in their own registry."""

    PREFIX = "shinshu_alerts"
    PORT_SETTING = "SHINSHU_ALERTS_METRICS_PORT"
    MESSAGES_HELP = "MQTT messages dealt with and acknowledged"

    def __post_init__(self) -> None:
        """Create the metrics in this instance's registry."""
        super().__post_init__()
        r = self.registry
        self.pairs = Counter(
            "shinshu_alerts_reading_pairs",
            "Weight and count pairs run through the detectors",
            registry=r,
        )
        self.raised = Counter(
            "shinshu_alerts_raised", "New alerts stored, by kind", ["kind"], registry=r
        )
        self.folded = Counter(
            "shinshu_alerts_folded",
            "Evidence folded into an alert already open for the same bin and kind",
            ["kind"],
            registry=r,
        )
        for kind in AlertKind:
            self.raised.labels(kind.value)
            self.folded.labels(kind.value)
        self.skipped = Counter(
            "shinshu_alerts_skipped",
            "Messages or readings not run through the detectors, by reason",
            ["reason"],
            registry=r,
        )
        for reason in SkipReason:
            self.skipped.labels(reason.value)
        self.store_errors = Counter(
            "shinshu_alerts_store_errors",
            "Store requests (alert writes, history reads) that failed",
            registry=r,
        )
        self.bins = Gauge("shinshu_alerts_bins", "Bins being watched", registry=r)
        self.warm_pairs = Counter(
            "shinshu_alerts_warm_start_pairs",
            "Stored reading pairs replayed when a bin was first seen",
            registry=r,
        )
        self.store_seconds = Histogram(
            "shinshu_alerts_receipt_to_stored_seconds",
            "From receiving the message that raised an alert to the alert being stored",
            registry=r,
        )

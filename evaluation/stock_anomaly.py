"""Event-level evaluation of the bin anomaly detector on simulated factories with ground truth.

An injected anomaly counts as found when an alert of the matching kind falls inside its
window (plus a grace period for anomalies that only show once they end); an alert that
matches no anomaly of its kind is a false alarm. Delay is from the anomaly's start to its
first matching alert.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from models.stock.anomaly import BinAnomalyDetector, StockAlert, StockAnomaly
from simulators.factory import DEFAULT_FACTORIES, simulate_factory
from simulators.truth import AnomalyEvent, AnomalyKind

# How each injected kind is expected to be reported.
EXPECTED: dict[AnomalyKind, StockAnomaly] = {
    AnomalyKind.SHRINKAGE: StockAnomaly.DROP,
    AnomalyKind.STUCK: StockAnomaly.FLAT_LINE,
    AnomalyKind.DRIFT: StockAnomaly.DRIFT,
    AnomalyKind.SPIKE: StockAnomaly.SPIKE,
    AnomalyKind.MISCOUNT: StockAnomaly.COUNT_JUMP,
}
GRACE_MS = 2 * MS_PER_HOUR


@dataclass
class KindScore:
    """Found, missed and false alarms of one kind, with detection delays."""

    found: int = 0
    missed: int = 0
    false_alarms: int = 0
    delays_ms: list[int] = field(default_factory=list)

    @property
    def f1(self) -> float:
        """Harmonic mean of event precision and recall."""
        tp = self.found
        denominator = 2 * tp + self.missed + self.false_alarms
        return 2 * tp / denominator if denominator else 1.0

    @property
    def median_delay_h(self) -> float:
        """Median delay from an anomaly's start to its first alert, in hours."""
        return statistics.median(self.delays_ms) / MS_PER_HOUR if self.delays_ms else float("nan")


def detect_bin(ts: np.ndarray, weight: np.ndarray, count: np.ndarray) -> list[StockAlert]:
    """Run a fresh detector over one bin's readings."""
    detector = BinAnomalyDetector()
    alerts: list[StockAlert] = []
    for t, w, c in zip(ts.tolist(), weight.tolist(), count.tolist(), strict=True):
        alerts.extend(detector.score_one(t, w, c))
    return alerts


def score_bin(
    events: Iterable[AnomalyEvent], alerts: list[StockAlert], scores: dict[StockAnomaly, KindScore]
) -> None:
    """Match one bin's alerts with its injected anomalies, adding to `scores`."""
    used: set[int] = set()
    for event in events:
        kind = EXPECTED.get(event.kind)
        if kind is None:
            continue
        hits = [
            i
            for i, a in enumerate(alerts)
            if a.kind is kind and event.start_ms <= a.ts_ms <= event.end_ms + GRACE_MS
        ]
        score = scores.setdefault(kind, KindScore())
        if hits:
            score.found += 1
            score.delays_ms.append(alerts[hits[0]].ts_ms - event.start_ms)
            used.update(hits)
        else:
            score.missed += 1
    for i, alert in enumerate(alerts):
        if i not in used:
            scores.setdefault(alert.kind, KindScore()).false_alarms += 1


def evaluate(
    seeds: Iterable[int], days: float = 90.0, step_ms: int = 600_000
) -> dict[StockAnomaly, KindScore]:
    """Score the detector on every bin of the built-in factories for each seed."""
    scores: dict[StockAnomaly, KindScore] = {}
    start = 1_735_689_600_000  # 2025-01-01T00:00Z
    for seed in seeds:
        for number, spec in enumerate(DEFAULT_FACTORIES):
            result = simulate_factory(
                spec, start, int(days * MS_PER_DAY), step_ms, seed * 100 + number
            )
            by_sensor = {s.sensor: s for s in result.series}
            for bin_spec in spec.bins:
                weight = by_sensor[f"{bin_spec.name}_weight"]
                count = by_sensor[f"{bin_spec.name}_count"]
                alerts = detect_bin(weight.ts_ms, weight.values, count.values)
                events = [e for e in result.anomalies if e.bin == bin_spec.name]
                score_bin(events, alerts, scores)
    return scores

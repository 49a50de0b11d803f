"""Event-level scores of the bin detectors on load-cell bins (`simulators.loadcell`).

Each injected behaviour is scored apart, and on bins with and without an item counter apart: an
event is found when an alert of its expected kind falls in its window plus a grace period (a
slow loss may only show at the next stocktake); events no sensor could show (`unobservable` in
their label) are counted but neither found nor missed. Every alert that matches no event of its
kind is a false alarm, reported per bin and 30-day month. "Before" is the residual detector
`BinAnomalyDetector` as it was (it needs a counter: on bins without one it finds nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from evaluation.stock_anomaly import KindScore
from models.stock.anomaly import BinAnomalyDetector, StockAlert, StockAnomaly
from models.stock.loadcell import LoadCellDetector
from simulators.factory import DEFAULT_FACTORIES
from simulators.loadcell import TEMPERATURE_SENSOR, simulate_loadcell_factory
from simulators.truth import AnomalyEvent, AnomalyKind

EXPECTED: dict[AnomalyKind, StockAnomaly] = {
    AnomalyKind.SHRINKAGE: StockAnomaly.DROP,
    AnomalyKind.STUCK: StockAnomaly.FLAT_LINE,
    AnomalyKind.SPIKE: StockAnomaly.SPIKE,
    AnomalyKind.MISCOUNT: StockAnomaly.COUNT_JUMP,
    AnomalyKind.DEAD_CELL: StockAnomaly.DEAD_CELL,
    AnomalyKind.PILFERAGE: StockAnomaly.PILFERAGE,
    AnomalyKind.TEMPERATURE_DRIFT: StockAnomaly.TEMPERATURE_DRIFT,
}
GRACE_MS = {AnomalyKind.PILFERAGE: 3 * MS_PER_DAY}
DEFAULT_GRACE_MS = 2 * MS_PER_HOUR
START_MS = 1_735_689_600_000  # 2025-01-01T00:00Z

Detect = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray], list[StockAlert]]


@dataclass
class LoadCellScores:
    """Per behaviour (with " (no counter)" on uncounted bins) and false alarms per alert kind."""

    behaviours: dict[str, KindScore] = field(default_factory=dict)
    unobservable: dict[str, int] = field(default_factory=dict)
    false_alarms: dict[StockAnomaly, int] = field(default_factory=dict)
    bin_months: float = 0.0
    counted_bin_months: float = 0.0

    def false_per_bin_month_of(self, behaviour: str) -> float:
        """False alarms of the kind that reports `behaviour`, per bin-month of its bins."""
        score = self.behaviours.get(behaviour)
        uncounted = self.bin_months - self.counted_bin_months
        months = uncounted if behaviour.endswith("(no counter)") else self.counted_bin_months
        return score.false_alarms / months if score and months else 0.0

    @property
    def false_per_bin_month(self) -> float:
        """All false alarms per bin and 30-day month."""
        return sum(self.false_alarms.values()) / self.bin_months if self.bin_months else 0.0


def detect_new(
    ts: np.ndarray, weight: np.ndarray, count: np.ndarray | None, temperature: np.ndarray
) -> list[StockAlert]:
    """Run a fresh `LoadCellDetector` over one bin."""
    detector = LoadCellDetector()
    counts = count.tolist() if count is not None else [float("nan")] * len(ts)
    alerts: list[StockAlert] = []
    for t, w, c, k in zip(ts.tolist(), weight.tolist(), counts, temperature.tolist(), strict=True):
        alerts.extend(detector.score_one(t, w, c, k))
    return alerts


def detect_old(
    ts: np.ndarray, weight: np.ndarray, count: np.ndarray | None, temperature: np.ndarray
) -> list[StockAlert]:
    """Run the residual detector as it was; it cannot watch a bin without a counter."""
    del temperature
    if count is None:
        return []
    detector = BinAnomalyDetector()
    alerts: list[StockAlert] = []
    for t, w, c in zip(ts.tolist(), weight.tolist(), count.tolist(), strict=True):
        alerts.extend(detector.score_one(t, w, c))
    return alerts


def _score_bin(
    events: list[AnomalyEvent], alerts: list[StockAlert], *, counter: bool, out: LoadCellScores
) -> None:
    """Match one bin's alerts with its events, adding to `out`."""
    used: set[int] = set()
    for event in events:
        kind = EXPECTED.get(event.kind)
        if kind is None:
            continue
        name = event.kind.value + ("" if counter else " (no counter)")
        grace = GRACE_MS.get(event.kind, DEFAULT_GRACE_MS)
        hits = [
            i
            for i, a in enumerate(alerts)
            if a.kind is kind and event.start_ms <= a.ts_ms <= event.end_ms + grace
        ]
        used.update(hits)
        if "unobservable" in event.note:
            out.unobservable[name] = out.unobservable.get(name, 0) + 1
            continue
        score = out.behaviours.setdefault(name, KindScore())
        if hits:
            score.found += 1
            score.delays_ms.append(alerts[hits[0]].ts_ms - event.start_ms)
        else:
            score.missed += 1
    behaviour = {kind: event for event, kind in EXPECTED.items()}
    for i, alert in enumerate(alerts):
        if i not in used:
            out.false_alarms[alert.kind] = out.false_alarms.get(alert.kind, 0) + 1
            if alert.kind in behaviour:
                # A false alarm of a kind counts against the behaviour that kind reports.
                name = behaviour[alert.kind].value + ("" if counter else " (no counter)")
                out.behaviours.setdefault(name, KindScore()).false_alarms += 1


def evaluate_loadcell(
    seeds: Iterable[int], *, days: float = 90.0, detect: Detect = detect_new
) -> LoadCellScores:
    """Score `detect` on every bin of the built-in factories for each seed."""
    out = LoadCellScores()
    step = 600_000
    for seed in seeds:
        for number, spec in enumerate(DEFAULT_FACTORIES):
            sim = simulate_loadcell_factory(
                spec, START_MS, int(days * MS_PER_DAY), step, seed * 100 + number
            )
            by_sensor = {s.sensor: s for s in sim.series}
            temp = by_sensor[TEMPERATURE_SENSOR]
            for bin_spec in spec.bins:
                weight = by_sensor[f"{bin_spec.name}_weight"]
                count = by_sensor.get(f"{bin_spec.name}_count")
                at = np.searchsorted(temp.ts_ms, weight.ts_ms)
                alerts = detect(
                    weight.ts_ms,
                    weight.values,
                    None if count is None else count.values,
                    temp.values[at],
                )
                events = [e for e in sim.anomalies if e.bin == bin_spec.name]
                _score_bin(events, alerts, counter=count is not None, out=out)
                out.bin_months += days / 30.0
                if count is not None:
                    out.counted_bin_months += days / 30.0
    return out

"""The bin anomaly detector on hand-made bins and on simulated factories it was not tuned on."""

from __future__ import annotations

import numpy as np

from evaluation.stock_anomaly import evaluate
from models.stock.anomaly import BinAnomalyDetector, StockAnomaly

STEP_MS = 600_000
UNIT_KG = 0.5


def bin_readings(rng: np.random.Generator, n: int = 1_000) -> tuple[np.ndarray, np.ndarray]:
    """A bin taking out items steadily, refilled when low: weight (kg, noisy) and count."""
    count = np.empty(n)
    stock = 600.0
    for i in range(n):
        stock -= rng.poisson(2.0)
        if stock < 100:
            stock += 500  # a delivery, counted in
        count[i] = stock
    weight = np.round(count * UNIT_KG + rng.normal(0, 0.1, n), 3)
    return weight, count


def run(weight: np.ndarray, count: np.ndarray) -> list[tuple[StockAnomaly, int]]:
    """Alerts as (kind, reading index)."""
    detector = BinAnomalyDetector()
    found = []
    for i, (w, c) in enumerate(zip(weight.tolist(), count.tolist(), strict=True)):
        found.extend((alert.kind, i) for alert in detector.update(i * STEP_MS, w, c))
    return found


def test_normal_operation_with_deliveries_raises_nothing() -> None:
    """Consumption and deliveries are normal: no alert at all."""
    weight, count = bin_readings(np.random.default_rng(1))
    assert run(weight, count) == []


def test_unexplained_weight_loss_is_a_drop_and_a_stuck_cell_a_flat_line() -> None:
    """Theft (weight falls, count does not) and a frozen load cell are told apart."""
    weight, count = bin_readings(np.random.default_rng(2))
    weight[400:] -= 40 * UNIT_KG  # 40 items gone without a scan
    weight[700:720] = weight[700]  # the load cell freezes
    alerts = run(weight, count)
    assert (StockAnomaly.DROP, 403) in alerts  # after 4 readings: not a spike
    assert (StockAnomaly.FLAT_LINE, 704) in alerts
    assert {kind for kind, _ in alerts} <= {StockAnomaly.DROP, StockAnomaly.FLAT_LINE}


def test_a_quiet_bin_repeating_a_reading_during_a_theft_still_raises_a_drop() -> None:
    """At night nothing is taken: the cell may repeat a value, which must not hide the step."""
    weight, count = bin_readings(np.random.default_rng(2))
    weight[400:] -= 40 * UNIT_KG
    weight[402] = weight[401]  # one repeat at the load cell's resolution, inside the run
    count[402] = count[401]
    alerts = run(weight, count)
    assert [kind for kind, i in alerts if 400 <= i < 420] == [StockAnomaly.DROP]


def test_a_double_scan_is_a_count_jump_and_a_short_excursion_a_spike() -> None:
    """A counter that jumps up is not theft; a weight that comes back is a spike."""
    weight, count = bin_readings(np.random.default_rng(3))
    count[300:340] += 25
    weight[600] += 150
    alerts = run(weight, count)
    kinds = [kind for kind, _ in alerts]
    assert StockAnomaly.COUNT_JUMP in kinds
    assert StockAnomaly.SPIKE in kinds
    assert StockAnomaly.DROP not in kinds


def test_simulated_factories_event_f1_at_least_0_9() -> None:
    """On held-out simulator seeds: drops, flat lines and drift found with F1 >= 0.9."""
    scores = evaluate(range(21, 23), days=60)
    for kind in (StockAnomaly.DROP, StockAnomaly.FLAT_LINE, StockAnomaly.DRIFT):
        assert scores[kind].f1 >= 0.9, (kind, scores[kind])
    assert scores[StockAnomaly.DROP].median_delay_h <= 1.0

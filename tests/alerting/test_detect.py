"""Per-bin state: pairing weight and count by timestamp, warm start, and one alert per episode."""

from __future__ import annotations

import numpy as np

from alerting.bins import BinRef, Channel, by_name
from alerting.detect import DetectOptions, Outcome
from edge.protocol import SensorKind
from models.stock.alerts import BinState
from models.stock.anomaly import BinAnomalyDetector, StockAnomaly
from simulators.loadcell import indicate
from storage.alert_types import AlertKind

STEP_MS = 600_000
START_MS = 1_769_958_000_000  # 2026-02-02 00:00 JST, a Monday
UNIT_KG = 0.5
REF = BinRef("acme", "plant", "stock-gateway", "bolts", "bolts_weight", "bolts_count", 0.0)


def bin_readings(n: int, seed: int = 1) -> tuple[list[int], list[float], list[float]]:
    """A bin taking out items steadily, refilled when low: times, weight (kg), count."""
    rng = np.random.default_rng(seed)
    count: list[float] = []
    stock = 600.0
    for _ in range(n):
        stock -= rng.poisson(2.0)
        if stock < 100:
            stock += 500  # a delivery, counted in
        count.append(stock)
    weight = np.round(np.array(count) * UNIT_KG + rng.normal(0, 0.1, n), 3).tolist()
    return [START_MS + i * STEP_MS for i in range(n)], weight, count


def feed(
    state: BinState[str], ts: list[int], weight: list[float], count: list[float]
) -> Outcome[str]:
    """Offer every pair in order, weight first, each reading held by its own name."""
    out: Outcome[str] = Outcome()
    for t, w, c in zip(ts, weight, count, strict=True):
        state.offer(Channel.WEIGHT, t, w, f"w{t}", arrived=0.0, out=out)
        state.offer(Channel.COUNT, t, c, f"c{t}", arrived=0.0, out=out)
    return out


def test_readings_pair_by_timestamp_whatever_order_they_come_in() -> None:
    """Each half waits for its partner; both holders are released when the pair is fed."""
    state: BinState[str] = BinState(REF, DetectOptions())
    out: Outcome[str] = Outcome()
    state.offer(Channel.COUNT, 1_000, 10.0, "a", arrived=0.0, out=out)
    state.offer(Channel.WEIGHT, 2_000, 4.9, "b", arrived=0.0, out=out)
    assert (out.pairs, out.released, state.waiting) == (0, [], 2)
    state.offer(Channel.WEIGHT, 1_000, 5.0, "c", arrived=0.0, out=out)
    assert (out.pairs, sorted(out.released), state.waiting) == (1, ["a", "c"], 1)
    state.offer(Channel.COUNT, 2_000, 9.8, "d", arrived=0.0, out=out)
    assert (out.pairs, state.last_ts, state.waiting) == (2, 2_000, 0)
    assert sorted(out.released) == ["a", "b", "c", "d"]
    assert out.unpaired == out.late == 0


def test_a_half_overtaken_by_a_later_pair_is_dropped_and_counted() -> None:
    """Pairs go to the detector in time order: a half older than a complete pair is given up."""
    state: BinState[str] = BinState(REF, DetectOptions())
    out: Outcome[str] = Outcome()
    state.offer(Channel.WEIGHT, 1_000, 5.0, "lonely", arrived=0.0, out=out)
    state.offer(Channel.WEIGHT, 2_000, 4.9, "w", arrived=0.0, out=out)
    state.offer(Channel.COUNT, 2_000, 9.8, "c", arrived=0.0, out=out)
    assert out.unpaired == 1 and "lonely" in out.released and state.waiting == 0
    # Its partner arriving now is too late; a resent reading of the last pair too.
    state.offer(Channel.COUNT, 1_000, 10.0, "late", arrived=0.0, out=out)
    state.offer(Channel.WEIGHT, 2_000, 4.9, "again", arrived=0.0, out=out)
    assert out.late == 2 and {"late", "again"} <= set(out.released)
    assert out.pairs == 1


def test_a_half_whose_partner_never_comes_expires() -> None:
    """A lone reading of a bin whose counter reports is released after its wait, so its
    message can be acknowledged, and counted as unpaired."""
    state: BinState[str] = BinState(REF, DetectOptions())
    out: Outcome[str] = Outcome()
    state.offer(Channel.COUNT, 500, 10.0, "count", arrived=5.0, out=out)
    state.offer(Channel.WEIGHT, 500, 5.0, "pair", arrived=5.0, out=out)
    state.offer(Channel.WEIGHT, 1_000, 5.0, "old", arrived=10.0, out=out)
    state.offer(Channel.WEIGHT, 2_000, 5.0, "new", arrived=20.0, out=out)
    state.expire(15.0, out)
    assert (out.unpaired, state.waiting, out.pairs) == (1, 1, 1)
    assert sorted(out.released) == ["count", "old", "pair"]


def test_a_bin_whose_counter_never_reports_is_watched_on_its_weight() -> None:
    """Weights of a named bin with no count ever wait once, then are fed alone, in time order,
    none dropped; the counter's first reading turns pairing back on."""
    state: BinState[str] = BinState(REF, DetectOptions())
    out: Outcome[str] = Outcome()
    state.offer(Channel.WEIGHT, 1_000, 5.0, "a", arrived=10.0, out=out)
    state.offer(Channel.WEIGHT, 2_000, 4.9, "b", arrived=20.0, out=out)
    assert (out.pairs, state.waiting) == (0, 2)
    state.expire(15.0, out)
    assert (out.unpaired, out.pairs, state.waiting, state.last_ts) == (0, 2, 0, 2_000)
    assert out.released == ["a", "b"] and not state.counted
    state.offer(Channel.WEIGHT, 3_000, 4.8, "c", arrived=30.0, out=out)
    assert (out.pairs, out.released[-1]) == (3, "c")
    state.offer(Channel.COUNT, 4_000, 9.0, "first count", arrived=40.0, out=out)
    assert state.counted and state.waiting == 1 and out.pairs == 3
    state.offer(Channel.WEIGHT, 4_000, 4.7, "d", arrived=40.0, out=out)
    assert out.pairs == 4 and out.unpaired == 0


def test_a_counter_known_from_the_store_keeps_its_bin_paired() -> None:
    """Counts in the stored history mean the counter works: a silence now drops weights as
    unpaired instead of switching the bin to weight alone."""
    ts, weight, count = bin_readings(20)
    state: BinState[str] = BinState(REF, DetectOptions())
    state.warm(zip(ts, weight, strict=True), zip(ts, count, strict=True), [])
    out: Outcome[str] = Outcome()
    later = ts[-1] + STEP_MS
    state.offer(Channel.WEIGHT, later, 5.0, "lonely", arrived=10.0, out=out)
    state.expire(15.0, out)
    assert (out.unpaired, out.pairs, state.counted) == (1, 0, True)


def test_a_drop_raises_one_alert_and_later_evidence_folds_into_it() -> None:
    """Two thefts an hour apart are one episode; one a day later is a new alert."""
    ts, weight, count = bin_readings(700)
    w = np.array(weight)
    w[400:] -= 40 * UNIT_KG  # 40 items gone without a scan
    w[406:] -= 40 * UNIT_KG  # and again an hour later
    w[560:] -= 40 * UNIT_KG  # and a day later
    state: BinState[str] = BinState(REF, DetectOptions())
    out = feed(state, ts, w.tolist(), count)
    drops = [a for a in out.raised if a.kind is AlertKind.DROP]
    assert [a.ts_ms for a in drops] == [ts[403], ts[563]]
    assert {a.sensor for a in drops} == {"bolts_weight"} and all(0 < a.score <= 1 for a in drops)
    assert [a.kind for a in out.folded] == [AlertKind.DROP]
    # The folded evidence rewrites the first alert (same id) with a later last_seen.
    updated = [a for a in out.writes if a.id == drops[0].id]
    assert [a.last_seen_ms for a in updated] == [ts[403], ts[409]]
    assert len({a.id for a in out.writes}) == 2


def test_warm_start_detects_at_once_and_does_not_repeat_stored_alerts() -> None:
    """Replayed history needs no new warm-up; an episode already stored is not raised again."""
    ts, weight, count = bin_readings(500, seed=3)
    w = np.array(weight)
    w[400:] -= 40 * UNIT_KG
    first: BinState[str] = BinState(REF, DetectOptions())
    raised = feed(first, ts, w.tolist(), count).raised
    assert [a.ts_ms for a in raised] == [ts[403]]
    # A restarted service: the history before the drop comes from the store, as does the alert.
    history = slice(0, 401)
    restarted: BinState[str] = BinState(REF, DetectOptions())
    replayed = restarted.warm(
        zip(ts[history], w[history].tolist(), strict=True),
        zip(ts[history], count[history], strict=True),
        raised,
    )
    assert replayed == 401
    again = feed(restarted, ts[401:], w[401:].tolist(), count[401:])
    assert again.raised == [] and [a.id for a in again.folded] == [raised[0].id]
    # Without the stored alert the same replay raises it, at the same time and with the same id.
    fresh: BinState[str] = BinState(REF, DetectOptions())
    fresh.warm(
        zip(ts[history], w[history].tolist(), strict=True),
        zip(ts[history], count[history], strict=True),
        [],
    )
    assert [a.id for a in feed(fresh, ts[401:], w[401:].tolist(), count[401:]).raised] == [
        raised[0].id
    ]


def test_reorder_alert_once_per_episode_within_the_lead_time() -> None:
    """A bin heading for empty within its lead time gets one reorder alert, not one per hour."""
    n = 9 * 144
    ts = [START_MS + i * STEP_MS for i in range(n)]
    rng = np.random.default_rng(5)
    count = np.maximum(2_900 - np.cumsum(rng.poisson(2.0, n)), 0).astype(float)
    weight = (count * UNIT_KG + rng.normal(0, 0.1, n)).round(3)
    ref = BinRef("acme", "plant", "stock-gateway", "bolts", "bolts_weight", "bolts_count", 48.0)
    state: BinState[str] = BinState(ref, DetectOptions())
    out = feed(state, ts, weight.tolist(), count.tolist())
    reorders = [a for a in out.raised if a.kind is AlertKind.REORDER]
    assert len(reorders) == 1, [a.reason for a in reorders]
    assert "stock-out expected" in reorders[0].reason and "JST" in reorders[0].reason
    assert reorders[0].sensor == "bolts_weight"
    assert any(a.kind is AlertKind.REORDER for a in out.folded)


def test_bins_are_found_by_sensor_name_when_not_registered() -> None:
    """`{bin}_weight` (bin_weight) and `{bin}_count` (item_count) form a bin; others do not."""
    found = by_name("t", "s", "d", "jars_weight", SensorKind.BIN_WEIGHT, lead_time_h=24.0)
    assert found is not None and found[1] is Channel.WEIGHT
    assert found[0].count_sensor == "jars_count" and found[0].lead_time_h == 24.0
    count = by_name("t", "s", "d", "jars_count", SensorKind.ITEM_COUNT, lead_time_h=24.0)
    assert count is not None and count[0] == found[0] and count[1] is Channel.COUNT
    assert by_name("t", "s", "d", "jars_count", SensorKind.BIN_WEIGHT, lead_time_h=1) is None
    assert by_name("t", "s", "d", "_weight", SensorKind.BIN_WEIGHT, lead_time_h=1) is None


def indicator_readings(days: int, seed: int = 2) -> tuple[list[int], list[float], list[float]]:
    """A bin read through a real weighing indicator (0.5 kg divisions, a stability hold), used
    only in working hours (08-17 JST, Monday to Friday): the weight repeats all night."""
    rng = np.random.default_rng(seed)
    n = days * 144
    ts = [START_MS + i * STEP_MS for i in range(n)]
    stock, count = 600.0, []
    for t in ts:
        local_hour = (t // 3_600_000 + 9) % 24
        weekday = ((t + 9 * 3_600_000) // 86_400_000 + 3) % 7
        if weekday < 5 and 8 <= local_hour < 17:
            stock -= rng.poisson(3.0)
        if stock < 100:
            stock += 500
        count.append(stock)
    raw = np.array(count) * UNIT_KG + rng.normal(0, 0.05, n)
    return ts, indicate(raw, 0.5, 2).tolist(), count


def test_a_real_indicator_holding_its_value_all_night_raises_no_alert() -> None:
    """Four weeks of quiet nights and weekends on whole divisions: the live detector raises
    nothing, where the residual detector's five-repeat rule (shown alongside) calls them stuck."""
    ts, weight, count = indicator_readings(28)
    state: BinState[str] = BinState(REF, DetectOptions())
    out = feed(state, ts, weight, count)
    assert out.pairs == len(ts)
    assert out.raised == []
    residual = BinAnomalyDetector()
    flagged = [
        a for t, w, c in zip(ts, weight, count, strict=True) for a in residual.update(t, w, c)
    ]
    assert any(a.kind is StockAnomaly.FLAT_LINE for a in flagged)


def test_a_bin_without_a_counter_is_watched_on_its_weight_alone() -> None:
    """A registered bin that names no item counter: each weight is judged as it comes (nothing
    waits for a partner), and a cell that falls dead to 0 under stock is a dead cell."""
    ref = BinRef("acme", "plant", "stock-gateway", "nuts", "nuts_weight", "", 0.0)
    ts, weight, _count = indicator_readings(21)
    dead_from = len(ts) - 30
    weight = weight[:dead_from] + [0.0] * (len(ts) - dead_from)
    state: BinState[str] = BinState(ref, DetectOptions())
    out: Outcome[str] = Outcome()
    for t, w in zip(ts, weight, strict=True):
        state.offer(Channel.WEIGHT, t, w, f"w{t}", arrived=0.0, out=out)
    assert out.pairs == len(ts) and state.waiting == 0
    assert len(out.released) == len(ts)
    assert [a.kind for a in out.raised] == [AlertKind.DEAD_CELL]
    assert out.raised[0].ts_ms >= ts[dead_from] and out.raised[0].sensor == "nuts_weight"

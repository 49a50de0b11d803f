"""Factory bins read through real weighing indicators, with load-cell faults and ground truth.

`simulators.factory` weighs each bin with continuous noise that never repeats a value. A real
indicator does not: it shows whole scale intervals ("divisions", e = 0.1, 0.2 or 0.5 kg here;
OIML R 76-1:2006 *Non-automatic weighing instruments*, 3.4.2: e is 1, 2 or 5 × 10^k), and its
stability (motion) hold keeps the shown value until the load moves by more than a band of a
few divisions, so a quiet bin repeats one value for hours. On top of the factory's own anomalies
(theft steps, mis-scans, rate changes, spikes, stuck cells) this adds, per bin and at random
times so that they may overlap each other and the factory's:

- dead cell: the indicator reads exactly 0 (a broken cable or cell) for 6 h to 5 days;
- missing readings: single lost readings and gaps of 1-12 h (no row at all);
- slow pilferage: single items taken unscanned in working hours over 2-5 weeks, 2-5 % of the
  capacity in all; the counter finds out only at the next goods-receipt stocktake;
- temperature drift: a cell whose zero follows the hall temperature far beyond its class (a
  damaged or wet cell), 0.1-0.3 % of the bin's full weight per kelvin, for 3-14 days;
- bins without an item counter (one per factory): weight only.

Labels of overlapping events carry `note="overlaps <kinds>"`; an event that no sensor could
show (a stuck cell on a bin nobody touched, a dead cell on a bin that was empty anyway) carries
`unobservable` in its note; so does pilferage on a bin without a counter, since an item taken
unscanned in working hours weighs exactly what an item used does. The factory's linear
calibration drift is not re-applied: on these bins slow zero changes come from temperature.
The sizes of the faults are illustrative choices, not published rates; the in-class temperature
effect (0.001 % of full weight per kelvin) is an assumed order of magnitude for a C3 cell, not a
datasheet value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import SensorKind
from simulators.climate import NAGANO_CITY
from simulators.common import FloatArray, IntArray, Seed, SensorSeries, make_rng, series
from simulators.factory import FactorySpec, activity, simulate_factory
from simulators.truth import AnomalyEvent, AnomalyKind
from simulators.weather import simulate_weather

DIVISIONS_KG = (0.1, 0.2, 0.5)
# OIML R 76-1 class III allows up to 10 000 divisions; 3 000 is the common indicator setting.
TARGET_DIVISIONS = 3_000
TEMPERATURE_SENSOR = "hall_temperature"
# Indoor hall temperature lags the outdoor air (the building's thermal mass): an assumed 6 h.
HALL_LAG_H = 6.0
HALL_DAMPING = 0.6


@dataclass(frozen=True, slots=True)
class Indicator:
    """How one bin is weighed: scale interval, stability-hold band and whether it has a counter."""

    division_kg: float
    hold_divisions: int
    counter: bool


@dataclass(frozen=True, slots=True, eq=False)
class LoadCellResult:
    """Sensor series (weights, counts where counted, hall temperature), truth and true stock."""

    spec: FactorySpec
    series: list[SensorSeries]
    anomalies: list[AnomalyEvent]
    stock: dict[str, IntArray]
    indicators: dict[str, Indicator]


def division_for(full_kg: float) -> float:
    """The smallest of 0.1/0.2/0.5 kg that keeps the bin's full weight near 3 000 divisions."""
    for d in DIVISIONS_KG:
        if full_kg / d <= TARGET_DIVISIONS:
            return d
    return DIVISIONS_KG[-1]


def hall_temperature(ts: IntArray, seed: int) -> FloatArray:
    """Hall air temperature: Nagano's simulated outdoor air, damped and lagged by the building."""
    weather = simulate_weather(NAGANO_CITY, int(ts[0]), int(ts[-1] - ts[0]) + MS_PER_HOUR, seed)
    outdoor = weather.air_temperature(ts)
    lag = np.exp(-np.diff(ts, prepend=ts[0]) / (HALL_LAG_H * MS_PER_HOUR))
    inside = np.empty_like(outdoor)
    level = float(outdoor[0])
    for i, (x, a) in enumerate(zip(outdoor.tolist(), lag.tolist(), strict=True)):
        level = a * level + (1.0 - a) * x
        inside[i] = level
    # Machines and the closed hall keep it milder than outside.
    return 15.0 + HALL_DAMPING * (inside - 15.0)


def indicate(raw: FloatArray, division: float, hold: int) -> FloatArray:
    """What the indicator shows: whole divisions, held until the load moves beyond the band."""
    shown = np.empty_like(raw)
    current = round(float(raw[0]) / division) * division
    band = hold * division
    for i, value in enumerate(raw.tolist()):
        if abs(value - current) > band + 0.5 * division:
            current = round(value / division) * division
        shown[i] = current
    return np.round(np.maximum(shown, 0.0), 3)


def _window(rng: np.random.Generator, n: int, low_steps: int, high_steps: int) -> tuple[int, int]:
    """A random [start, end] of a length between the bounds, away from the first day."""
    length = int(rng.integers(low_steps, max(high_steps, low_steps + 1)))
    margin = min(n // 6, 14 * 144)
    start = int(rng.integers(margin, max(margin + 1, n - length - 1)))
    return start, min(start + length, n - 1)


def _pilfer(
    rng: np.random.Generator,
    working: FloatArray,
    physical: IntArray,
    span: tuple[int, int],
    total: int,
) -> IntArray:
    """Cumulative items pilfered: single items at random working-hour readings of the span."""
    start, end = span
    taken = np.zeros(len(physical), dtype=np.int64)
    slots = np.flatnonzero(working[start : end + 1] > 0.5) + start
    if len(slots):
        picks = rng.choice(slots, size=total, replace=True)
        np.add.at(taken, picks, 1)
    cumulative = np.cumsum(taken)
    # Nothing is taken from an empty bin.
    return np.minimum(cumulative, np.maximum(physical, 0))


def _receipts(physical: IntArray, count: FloatArray) -> IntArray:
    """Readings where goods arrived: stock and counter both rose."""
    up = (np.diff(physical) > 0) & (np.diff(count) > 0)
    return np.flatnonzero(up) + 1


@dataclass(frozen=True, slots=True)
class _Bin:
    """One bin's signals while its faults are applied."""

    name: str
    unit: float
    full_kg: float
    indicator: Indicator


def simulate_loadcell_factory(
    spec: FactorySpec, start_ms: int, duration_ms: int, step_ms: int, seed: Seed
) -> LoadCellResult:
    """Simulate a factory whose bins are read through weighing indicators, with faults."""
    rng = make_rng(seed)
    base = simulate_factory(spec, start_ms, duration_ms, step_ms, rng)
    by_sensor = {s.sensor: s for s in base.series}
    ts = by_sensor[f"{spec.bins[0].name}_weight"].ts_ms
    n = len(ts)
    temperature = hall_temperature(ts, int(rng.integers(1 << 31)))
    working = activity(ts, spec.shifts)
    uncounted = int(rng.integers(len(spec.bins)))
    out: list[SensorSeries] = []
    events: list[AnomalyEvent] = []
    stocks: dict[str, IntArray] = {}
    indicators: dict[str, Indicator] = {}
    days = n * step_ms / MS_PER_DAY
    hour = MS_PER_HOUR // step_ms
    for b, bin_spec in enumerate(spec.bins):
        full_kg = bin_spec.capacity * bin_spec.unit_kg
        ind = Indicator(division_for(full_kg), int(rng.integers(0, 3)), b != uncounted)
        indicators[bin_spec.name] = ind
        mine = [e for e in base.anomalies if e.bin == bin_spec.name]
        physical = base.stock[bin_spec.name].copy()
        count = by_sensor[f"{bin_spec.name}_count"].values.copy()
        new: list[AnomalyEvent] = []

        # Slow pilferage, about once a quarter in one of the factory's bins.
        if rng.random() < min(1.0, days / 90.0 / len(spec.bins) * 1.5):
            span = _window(rng, n, 14 * 24 * hour, 35 * 24 * hour)
            total = max(3, int(rng.uniform(0.02, 0.05) * bin_spec.capacity))
            lost = _pilfer(rng, working, physical, span, total)
            physical = physical - lost
            receipts = _receipts(physical, count)
            # The stocktake at each receipt finds what was taken before it.
            found = np.zeros(n, dtype=np.int64)
            for r in receipts.tolist():
                found[r:] = lost[r]
            count = np.maximum(count - found, 0.0)
            # A bin emptied by pilferage gives nothing more to scan until goods arrive.
            gone = (physical <= 0) & (lost > 0)
            for i in np.flatnonzero(gone[1:] & (count[1:] < count[:-1])) + 1:
                count[i] = count[i - 1]
            event = _event(
                spec.site,
                bin_spec.name,
                ts,
                AnomalyKind.PILFERAGE,
                span=(span[0], span[1]),
                magnitude=float(lost[span[1]]),
            )
            # Without a counter an item taken in working hours weighs what an item used does.
            new.append(event if ind.counter else replace(event, note="unobservable"))
        raw = physical * bin_spec.unit_kg
        raw = raw + 1e-5 * full_kg * (temperature - 20.0)  # the cell's in-class effect
        raw = raw + 0.3 * ind.division_kg * rng.standard_normal(n)
        for e in mine:
            lo = int(np.searchsorted(ts, e.start_ms))
            hi = int(np.searchsorted(ts, e.end_ms))
            if e.kind is AnomalyKind.SPIKE:
                raw[lo : hi + 1] += e.magnitude
            if e.kind is not AnomalyKind.DRIFT and not (
                e.kind is AnomalyKind.MISCOUNT and not ind.counter
            ):
                new.append(e)
        # Temperature drift of a damaged cell, about once a quarter per factory.
        if rng.random() < min(1.0, days / 90.0 / len(spec.bins) * 1.5):
            lo, hi = _window(rng, n, 3 * 24 * hour, 14 * 24 * hour)
            coefficient = float(rng.choice([-1, 1]) * rng.uniform(1e-3, 3e-3) * full_kg)
            ramp = np.minimum(1.0, np.arange(hi - lo + 1) / (6 * hour))  # it sets in within hours
            raw[lo : hi + 1] += coefficient * ramp * (temperature[lo : hi + 1] - temperature[lo])
            new.append(
                _event(
                    spec.site,
                    bin_spec.name,
                    ts,
                    AnomalyKind.TEMPERATURE_DRIFT,
                    span=(lo, hi),
                    magnitude=coefficient,
                )
            )
        weight = indicate(raw, ind.division_kg, ind.hold_divisions)
        band = (ind.hold_divisions + 2) * ind.division_kg
        for e in mine:
            if e.kind is AnomalyKind.STUCK:
                lo = int(np.searchsorted(ts, e.start_ms))
                hi = int(np.searchsorted(ts, e.end_ms))
                weight[lo : hi + 1] = weight[lo]
        # A dead cell, about once a quarter per factory.
        if rng.random() < min(1.0, days / 90.0 / len(spec.bins) * 1.5):
            lo, hi = _window(rng, n, 6 * hour, 5 * 24 * hour)
            weight[lo : hi + 1] = 0.0
            quiet = float(np.max(physical[lo : hi + 1])) * bin_spec.unit_kg < 10 * band
            new.append(
                _event(
                    spec.site,
                    bin_spec.name,
                    ts,
                    AnomalyKind.DEAD_CELL,
                    span=(lo, hi),
                    magnitude=0.0,
                )
            )
            if quiet:
                new[-1] = replace(new[-1], note="unobservable")
        # Lost readings: single ones (0.5 %) and a few gaps of 1-12 h.
        present = rng.random(n) >= 0.005
        for _ in range(int(rng.poisson(2.0 * days / 90.0))):
            lo, hi = _window(rng, n, hour, 12 * hour)
            present[lo : hi + 1] = False
            new.append(
                _event(
                    spec.site,
                    bin_spec.name,
                    ts,
                    AnomalyKind.MISSING,
                    span=(lo, hi),
                    magnitude=float(hi - lo + 1),
                )
            )
        events.extend(_notes(new, physical, ts, bin_spec.unit_kg, band))
        stocks[bin_spec.name] = physical
        out.append(
            series(
                f"{bin_spec.name}_weight", SensorKind.BIN_WEIGHT, ts[present], weight[present], 3
            )
        )
        if ind.counter:
            out.append(
                series(
                    f"{bin_spec.name}_count", SensorKind.ITEM_COUNT, ts[present], count[present], 0
                )
            )
    out.append(series(TEMPERATURE_SENSOR, SensorKind.AIR_TEMPERATURE, ts, temperature, 2))
    events.sort(key=lambda e: (e.start_ms, e.bin))
    return LoadCellResult(spec, out, events, stocks, indicators)


def _event(
    site: str,
    name: str,
    ts: IntArray,
    kind: AnomalyKind,
    *,
    span: tuple[int, int],
    magnitude: float,
) -> AnomalyEvent:
    """The label of one injected event over readings span[0]..span[1]."""
    sensor = f"{name}_{'count' if kind is AnomalyKind.MISCOUNT else 'weight'}"
    lo, hi = span
    return AnomalyEvent(site, name, sensor, kind, int(ts[lo]), int(ts[hi]), round(magnitude, 4))


def _notes(
    events: list[AnomalyEvent], physical: IntArray, ts: IntArray, unit: float, band: float
) -> list[AnomalyEvent]:
    """Label overlaps with the bin's other events, and stuck cells no movement could reveal."""
    out: list[AnomalyEvent] = []
    for e in events:
        others = sorted(
            {
                o.kind.value
                for o in events
                if o is not e and o.start_ms <= e.end_ms and e.start_ms <= o.end_ms
            }
        )
        notes = [e.note] if e.note else []
        if e.kind is AnomalyKind.STUCK:
            lo, hi = int(np.searchsorted(ts, e.start_ms)), int(np.searchsorted(ts, e.end_ms))
            moved = float(np.ptp(physical[lo : hi + 1])) * unit
            if moved < 3 * band:
                notes.append("unobservable")
        if others:
            notes.append("overlaps " + ",".join(others))
        out.append(replace(e, note="; ".join(notes)))
    return out

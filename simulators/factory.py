"""Simulated factory inventory: bins on load cells with item counters, and injected anomalies.

Items are consumed by the shift pattern (and hardly at weekends or on Japanese holidays),
replenished by reorder point or by a fixed delivery schedule, and counted by scanning: the
counter follows scanned withdrawals and is reconciled with the physical stock at each goods
receipt. The load cell weighs the physical stock. Injected anomalies never overlap within a
factory, so each interval in the truth has exactly one cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.time import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR
from edge.protocol import SensorKind
from simulators.common import (
    BoolArray,
    FloatArray,
    IntArray,
    Seed,
    SensorSeries,
    local_day,
    make_rng,
    series,
    time_grid,
)
from simulators.truth import FACTORY_KINDS, AnomalyEvent, AnomalyKind


class ShiftPattern(StrEnum):
    """When a factory works."""

    THREE_SHIFTS = "three_shifts"
    TWO_SHIFTS = "two_shifts"
    DAY_ONLY = "day_only"


class Replenishment(StrEnum):
    """How a bin is refilled."""

    REORDER_POINT = "reorder_point"
    SCHEDULED = "scheduled"


@dataclass(frozen=True, slots=True)
class BinSpec:
    """One bin: the item, its capacity, consumption at full production and its refill rule."""

    name: str
    unit_kg: float
    capacity: int
    rate_per_h: float
    policy: Replenishment
    reorder_point: int
    order_qty: int
    lead_time_h: float = 24.0
    delivery_weekdays: tuple[int, ...] = (0, 3)


@dataclass(frozen=True, slots=True)
class FactorySpec:
    """One factory: site id, shift pattern, bins and how many anomalies of each kind per year."""

    site: str
    shifts: ShiftPattern
    bins: tuple[BinSpec, ...]
    anomalies_per_kind: int = 2


@dataclass(frozen=True, slots=True, eq=False)
class FactoryResult:
    """Sensor series, anomaly truth and the true stock of each bin."""

    spec: FactorySpec
    series: list[SensorSeries]
    anomalies: list[AnomalyEvent]
    stock: dict[str, IntArray]


_R, _S = Replenishment.REORDER_POINT, Replenishment.SCHEDULED
# For scheduled bins `order_qty` is the order-up-to level; reorder points keep ~1.5 days of use.
DEFAULT_FACTORIES: tuple[FactorySpec, ...] = (
    FactorySpec(
        "suwa-precision",
        ShiftPattern.THREE_SHIFTS,
        (
            BinSpec("screws-m3", 0.0012, 40_000, 300.0, _R, 12_000, 26_000),
            BinSpec("bearings-608", 0.012, 6_000, 40.0, _R, 1_600, 4_000),
            BinSpec("shafts-8mm", 0.09, 1_500, 12.0, _S, 0, 1_400, 0.0, (0, 2, 4)),
            BinSpec("housings", 0.45, 800, 5.0, _R, 450, 350, 48.0),
        ),
    ),
    FactorySpec(
        "ina-electronics",
        ShiftPattern.TWO_SHIFTS,
        (
            BinSpec("pcb-main", 0.06, 3_000, 25.0, _R, 700, 2_000),
            BinSpec("connectors", 0.004, 30_000, 200.0, _R, 6_000, 20_000),
            BinSpec("enclosures", 0.3, 900, 8.0, _S, 0, 850, 0.0, (1, 4)),
            BinSpec("cables", 0.05, 4_000, 30.0, _R, 900, 2_800),
        ),
    ),
    FactorySpec(
        "matsumoto-foods",
        ShiftPattern.DAY_ONLY,
        (
            BinSpec("flour-bags", 25.0, 120, 1.5, _S, 0, 110, 0.0, (0, 2, 4)),
            BinSpec("jars", 0.35, 5_000, 120.0, _R, 1_500, 3_200),
            BinSpec("lids", 0.01, 8_000, 120.0, _R, 2_000, 5_500),
            BinSpec("cartons", 0.2, 2_000, 20.0, _S, 0, 1_800, 0.0, (1, 3)),
        ),
    ),
)


def _holiday(day: IntArray) -> BoolArray:
    """New Year, Golden Week and Obon, when Japanese factories mostly stop."""
    dates = day.astype("datetime64[D]")
    md = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return (
        ((month == 1) & (md <= 3))
        | ((month == 12) & (md >= 29))
        | ((month == 4) & (md >= 29))
        | ((month == 5) & (md <= 5))
        | ((month == 8) & (md >= 13) & (md <= 16))
    )


def activity(ts_ms: IntArray, shifts: ShiftPattern) -> FloatArray:
    """Production intensity (0..1) at each time by shift, weekday and holiday."""
    day = local_day(ts_ms)
    hour = ((ts_ms + JST_OFFSET_MS) % MS_PER_DAY) // MS_PER_HOUR
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0.
    if shifts is ShiftPattern.THREE_SHIFTS:
        level = np.where((hour >= 6) & (hour < 22), 1.0, 0.7)
        week = np.select([weekday == 5, weekday == 6], [0.3, 0.1], 1.0)
    elif shifts is ShiftPattern.TWO_SHIFTS:
        level = np.where((hour >= 6) & (hour < 22), 1.0, 0.02)
        week = np.select([weekday == 5, weekday == 6], [0.2, 0.0], 1.0)
    else:
        level = np.where((hour >= 8) & (hour < 17) & (hour != 12), 1.0, 0.0)
        week = np.where(weekday >= 5, 0.0, 1.0)
    return level * week * np.where(_holiday(day), 0.05, 1.0)


def _delivery_slots(ts_ms: IntArray, weekdays: tuple[int, ...] | None) -> IntArray:
    """Sample indices at which a truck unloads: weekday working hours, or 10:00 on fixed days."""
    day = local_day(ts_ms)
    hour = ((ts_ms + JST_OFFSET_MS) % MS_PER_DAY) // MS_PER_HOUR
    weekday = (day + 3) % 7
    ok = (weekday < 5) & (hour >= 9) & (hour < 16) & ~_holiday(day)
    if weekdays is None:
        return np.flatnonzero(ok).astype(np.int64)
    idx = np.flatnonzero(ok & np.isin(weekday, weekdays) & (hour >= 10))
    if len(idx) == 0:  # a short window over holidays has no delivery day
        return idx.astype(np.int64)
    first_of_day = np.concatenate([[True], day[idx][1:] != day[idx][:-1]])
    return idx[first_of_day].astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Planned:
    """An anomaly placed in time before the stock is simulated."""

    kind: AnomalyKind
    bin: int
    start: int
    end: int
    slot_end: int
    magnitude: float


def _plan(spec: FactorySpec, n: int, step_ms: int, rng: np.random.Generator) -> list[_Planned]:
    """Place anomalies in disjoint time slots, one per slot, on random bins."""
    days = n * step_ms / MS_PER_DAY
    per_kind = max(1, round(spec.anomalies_per_kind * days / 365.0))
    kinds = [kind for kind in FACTORY_KINDS for _ in range(per_kind)]
    order = rng.permutation(len(kinds))
    margin = min(MS_PER_DAY // step_ms, n // 10)
    slot = (n - 2 * margin) // len(kinds)
    if slot < 4:
        raise ValueError("the window is too short for the requested anomalies")
    hour = MS_PER_HOUR / step_ms
    planned: list[_Planned] = []
    for e, k in enumerate(order.tolist()):
        kind = kinds[k]
        lo = margin + e * slot
        if kind in (AnomalyKind.DRIFT, AnomalyKind.RATE_CHANGE):
            length = rng.uniform(72.0, 336.0) * hour
        elif kind is AnomalyKind.STUCK:
            length = rng.uniform(2.0, 48.0) * hour
        elif kind is AnomalyKind.SHRINKAGE:
            length = rng.uniform(10.0, 60.0) * hour / 60.0
        else:
            length = float(rng.integers(1, 4))
        steps = int(np.clip(round(length), 1, max(1, int(0.6 * slot))))
        start = lo + int(rng.integers(0, slot - steps))
        if kind is AnomalyKind.RATE_CHANGE:
            magnitude = float(rng.choice([rng.uniform(0.3, 0.6), rng.uniform(1.6, 2.2)]))
        elif kind is AnomalyKind.MISCOUNT:
            # A pallet or carton scanned twice, or missed: a jump of a few % of capacity.
            magnitude = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.08))
        else:
            magnitude = float(
                rng.uniform(0.1, 0.25) if kind is AnomalyKind.SHRINKAGE else rng.random()
            )
        planned.append(
            _Planned(
                kind,
                int(rng.integers(len(spec.bins))),
                start,
                start + steps - 1,
                lo + slot - 1,
                magnitude,
            )
        )
    return planned


def _stock(
    spec: BinSpec, consumed: IntArray, stolen: IntArray, slots: IntArray, lead_steps: int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Physical stock, scanned count, goods-receipt indices and items actually stolen."""
    n = len(consumed)
    physical = np.empty(n, dtype=np.int64)
    counted = np.empty(n, dtype=np.int64)
    taken = np.zeros(n, dtype=np.int64)
    receipts: list[int] = []
    scheduled = spec.policy is Replenishment.SCHEDULED
    slot_set = set(slots.tolist()) if scheduled else set()
    stock = recorded = int(0.8 * spec.capacity)
    arrival = -1
    for i, (wanted, theft) in enumerate(zip(consumed.tolist(), stolen.tolist(), strict=True)):
        if i == arrival or i in slot_set:
            qty = spec.order_qty if i == arrival else max(spec.order_qty - recorded, 0)
            stock = min(stock + qty, spec.capacity)
            recorded = stock  # goods receipt: the counter is reconciled with a stocktake
            receipts.append(i)
            arrival = -1
        use = min(wanted, stock)
        stock -= use
        recorded = max(recorded - use, 0)
        if theft:
            taken[i] = min(theft, stock)
            stock -= taken[i]
        if not scheduled and arrival < 0 and recorded <= spec.reorder_point:
            j = int(np.searchsorted(slots, i + lead_steps))
            arrival = int(slots[j]) if j < len(slots) else n
        physical[i] = stock
        counted[i] = recorded
    return physical, counted, np.array(receipts, dtype=np.int64), taken


def simulate_factory(
    spec: FactorySpec, start_ms: int, duration_ms: int, step_ms: int, seed: Seed
) -> FactoryResult:
    """Simulate all bins of a factory with labelled anomalies over [start, start+duration)."""
    rng = make_rng(seed)
    ts = time_grid(start_ms, duration_ms, step_ms)
    n = len(ts)
    level = activity(ts, spec.shifts)
    day = local_day(ts)
    planned = _plan(spec, n, step_ms, rng)
    out: list[SensorSeries] = []
    events: list[AnomalyEvent] = []
    stocks: dict[str, IntArray] = {}
    for b, bin_spec in enumerate(spec.bins):
        mine = [p for p in planned if p.bin == b]
        rate = np.full(n, bin_spec.rate_per_h * step_ms / MS_PER_HOUR) * level
        # Orders vary from day to day.
        rate *= np.exp(0.15 * rng.standard_normal(int(day[-1] - day[0]) + 1))[day - day[0]]
        stolen = np.zeros(n, dtype=np.int64)
        for p in mine:
            if p.kind is AnomalyKind.RATE_CHANGE:
                rate[p.start : p.end + 1] *= p.magnitude
            elif p.kind is AnomalyKind.SHRINKAGE:
                total = max(1, int(p.magnitude * bin_spec.capacity))
                parts = np.diff(np.linspace(0, total, p.end - p.start + 2).astype(np.int64))
                stolen[p.start : p.end + 1] = parts
        consumed = rng.poisson(rate).astype(np.int64)
        lead = int(bin_spec.lead_time_h * MS_PER_HOUR // step_ms)
        weekdays = bin_spec.delivery_weekdays if bin_spec.policy is _S else None
        slots = _delivery_slots(ts, weekdays)
        physical, counted, receipts, taken = _stock(bin_spec, consumed, stolen, slots, lead)
        full_kg = bin_spec.capacity * bin_spec.unit_kg
        weight = physical * bin_spec.unit_kg + (0.0002 * full_kg + 0.02) * rng.standard_normal(n)
        count = counted.astype(np.float64)
        for p in mine:
            end, magnitude = p.end, p.magnitude
            if p.kind is AnomalyKind.SHRINKAGE:
                magnitude = float(taken[p.start : p.end + 1].sum())
            elif p.kind is AnomalyKind.DRIFT:
                magnitude = float(rng.choice([-1, 1]) * (0.02 + 0.04 * p.magnitude) * full_kg)
                ramp = np.linspace(0.0, magnitude, p.end - p.start + 1)
                weight[p.start : p.end + 1] += ramp
            elif p.kind is AnomalyKind.SPIKE:
                magnitude = float(rng.choice([-1, 1]) * (0.2 + 0.3 * p.magnitude) * full_kg)
                weight[p.start : p.end + 1] += magnitude
            elif p.kind is AnomalyKind.STUCK:
                magnitude = round(float(max(weight[p.start], 0.0)), 3)
                weight[p.start : p.end + 1] = magnitude
            elif p.kind is AnomalyKind.MISCOUNT:
                size = max(2.0, round(abs(magnitude) * bin_spec.capacity))
                magnitude = float(np.copysign(size, magnitude))
                later = receipts[receipts > p.start]
                end = min(int(later[0]) - 1 if len(later) else n - 1, p.slot_end)
                count[p.start : end + 1] = np.maximum(count[p.start : end + 1] + magnitude, 0.0)
            sensor = "count" if p.kind is AnomalyKind.MISCOUNT else "weight"
            events.append(
                AnomalyEvent(
                    spec.site,
                    bin_spec.name,
                    f"{bin_spec.name}_{sensor}",
                    p.kind,
                    int(ts[p.start]),
                    int(ts[end]),
                    round(magnitude, 4),
                )
            )
        stocks[bin_spec.name] = physical
        out.append(
            series(f"{bin_spec.name}_weight", SensorKind.BIN_WEIGHT, ts, np.maximum(weight, 0.0), 3)
        )
        out.append(series(f"{bin_spec.name}_count", SensorKind.ITEM_COUNT, ts, count, 0))
    events.sort(key=lambda e: e.start_ms)
    return FactoryResult(spec, out, events, stocks)

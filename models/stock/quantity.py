"""Quantity confirmation (数量確認): book, measured and counted stock of each bin, and alerts.

For a bin (`storage.assets.BinAsset`), in items:

- **book stock** at time t: the newest opening record at or before t (a `stocktake`, whose
  counted quantity is the stock, or a `book_stock` imported from the factory's own system),
  plus the `delivery` and minus the `withdrawal` quantities recorded after the opening and at
  or before t. Movements at the opening's own millisecond are taken as counted in it. Before
  the first opening there is no book stock (the opening holds whatever came before).
- **measured stock** at t: (load-cell weight − tare) ÷ unit weight, with the newest weight
  reading at or before t and at most `MAX_READING_AGE_MS` older; where the bin has an item
  counter, its newest reading likewise. The weight is the measure when there is one, the
  counter otherwise. Device, sensors, tare and unit weight are those of the registry version
  in force at t (a device moved to another bin measures the old one until the move); times
  before the first version take the first version, since readings often predate registration.
- **discrepancy** = book − measured. At a stocktake the book is the counted quantity, so the
  discrepancy there is counted − measured at the stocktake's time.
- **tolerance**: the bin's own, else `default_tolerance` (2 % of capacity, at least 1 item);
  a discrepancy is beyond it when |discrepancy| > tolerance.

Points over time are taken at every record and every `STEP_MS` (UTC hours). A point at a
delivery or withdrawal itself is shown but is not evidence for an alert, nor are the steps
within `SETTLE_MS` after one: the goods reach the scale a little before or after the time
written down.

Alerts: one per bin and opening (kind `quantity_discrepancy`, raised at the opening's time,
so that checking again, or over another window, rewrites the same alert): when the opening
itself or any later hourly step up to the next opening is beyond the tolerance. `last_seen`
is the newest such point. The reason is in English and Japanese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from core.errors import InvalidRequestError, NotFoundError
from core.time import JST, MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE
from edge.protocol import SensorKind
from storage.alert_types import Alert
from storage.assets import AssetVersion, BinAsset, Change
from storage.records import RecordKind, WorkRecord
from storage.series import AssetReader, Series

STEP_MS = MS_PER_HOUR
MAX_READING_AGE_MS = 24 * MS_PER_HOUR
SETTLE_MS = 15 * MS_PER_MINUTE
# A check without a window looks this far back; the opening in force is always looked at.
CHECK_MS = MS_PER_DAY
# The longest range of points one request may ask for.
MAX_SPAN_MS = 92 * MS_PER_DAY
DEFAULT_TOLERANCE_SHARE = 0.02

OPENINGS = (RecordKind.STOCKTAKE, RecordKind.BOOK_STOCK)
MOVEMENTS = (RecordKind.DELIVERY, RecordKind.WITHDRAWAL)
KINDS = (*OPENINGS, *MOVEMENTS)


class QuantityRangeError(InvalidRequestError):
    """A range of points that is empty, reversed or too long."""


class BinNotFoundError(NotFoundError):
    """The tenant's registry has no such bin."""


class Basis(StrEnum):
    """Which sensor a measured stock comes from."""

    WEIGHT = "weight"
    COUNT = "count"


def default_tolerance(capacity: int) -> float:
    """The tolerance of a bin that sets none: 2 % of its capacity, at least one item."""
    return max(1.0, DEFAULT_TOLERANCE_SHARE * capacity)


def tolerance_of(bin_: BinAsset) -> float:
    """Items of discrepancy the bin tolerates."""
    return float(bin_.tolerance) if bin_.tolerance is not None else default_tolerance(bin_.capacity)


def items_of(weight_kg: float, bin_: BinAsset) -> float:
    """Items on the load cell: (weight − tare) ÷ unit weight."""
    return (weight_kg - bin_.tare_kg) / bin_.unit_kg


def opening_at(records: Sequence[WorkRecord], at_ms: int) -> WorkRecord | None:
    """The newest stocktake or book stock at or before `at_ms` (records oldest first)."""
    found = None
    for r in records:
        if r.at_ms > at_ms:
            break
        if r.kind in OPENINGS and r.quantity is not None:
            found = r
    return found


def book_at(records: Sequence[WorkRecord], at_ms: int) -> float | None:
    """The book stock at `at_ms`: the opening plus deliveries minus withdrawals since."""
    opening = opening_at(records, at_ms)
    if opening is None or opening.quantity is None:
        return None
    book = opening.quantity
    for r in records:
        if r.at_ms <= opening.at_ms or r.quantity is None or r.kind not in MOVEMENTS:
            continue
        if r.at_ms > at_ms:
            break
        book += r.quantity if r.kind is RecordKind.DELIVERY else -r.quantity
    return book


@dataclass(frozen=True, slots=True)
class QuantityPoint:
    """Book, measured and counted stock of a bin at one time, in items."""

    at_ms: int
    tolerance: float
    book: float | None = None
    weight_kg: float | None = None
    weight_at_ms: int | None = None
    weighed: float | None = None
    counter: float | None = None
    counter_at_ms: int | None = None
    record: WorkRecord | None = None

    @property
    def measured(self) -> float | None:
        """The measured stock: from the weight when there is one, else the counter."""
        return self.weighed if self.weighed is not None else self.counter

    @property
    def basis(self) -> Basis | None:
        """Which sensor `measured` comes from."""
        if self.weighed is not None:
            return Basis.WEIGHT
        return Basis.COUNT if self.counter is not None else None

    @property
    def counted(self) -> float | None:
        """The counted quantity when this point is a stocktake."""
        r = self.record
        return r.quantity if r is not None and r.kind is RecordKind.STOCKTAKE else None

    @property
    def discrepancy(self) -> float | None:
        """Book − measured (counted − measured at a stocktake)."""
        if self.book is None or self.measured is None:
            return None
        return self.book - self.measured

    @property
    def counter_discrepancy(self) -> float | None:
        """Book − the item counter, where the bin has a counter reading."""
        if self.book is None or self.counter is None:
            return None
        return self.book - self.counter

    @property
    def over(self) -> bool:
        """Whether the discrepancy is beyond the tolerance."""
        d = self.discrepancy
        return d is not None and abs(d) > self.tolerance


@dataclass(frozen=True, slots=True)
class Span:
    """A registry version of the bin in force during [from_ms, to_ms) (None: unbounded)."""

    from_ms: int | None
    to_ms: int | None
    bin: BinAsset

    def holds(self, at_ms: int) -> bool:
        return (self.from_ms is None or at_ms >= self.from_ms) and (
            self.to_ms is None or at_ms < self.to_ms
        )


def bin_spans(history: Sequence[AssetVersion], current: BinAsset) -> list[Span]:
    versions = [
        v for v in history if v.change is not Change.RETIRE and isinstance(v.asset, BinAsset)
    ]
    if not versions:
        return [Span(None, None, current)]
    out = []
    for i, v in enumerate(versions):
        start = None if i == 0 else v.at_ms
        end = versions[i + 1].at_ms if i + 1 < len(versions) else None
        assert isinstance(v.asset, BinAsset)
        out.append(Span(start, end, v.asset))
    return out


class Measure:
    """Measured stock of one bin at given times, each series read once per cluster of times."""

    def __init__(self, reader: AssetReader, tenant: str, spans: list[Span]) -> None:
        self._reader = reader
        self._tenant = tenant
        self._spans = spans
        self._series: dict[tuple[int, str, str, int, int], Series] = {}

    def span_at(self, at_ms: int) -> Span:
        for span in self._spans:
            if span.holds(at_ms):
                return span
        return self._spans[-1]

    def _attached_from(self, index: int) -> int | None:
        """Where the attachment (device and sensors) of span `index` began."""
        span = self._spans[index]
        while index > 0:
            before = self._spans[index - 1].bin
            if (before.device, before.weight_sensor, before.count_sensor) != (
                span.bin.device,
                span.bin.weight_sensor,
                span.bin.count_sensor,
            ):
                break
            index -= 1
        return self._spans[index].from_ms

    def _reading(
        self, kind: SensorKind, sensor: str, at_ms: int, window: tuple[int, int]
    ) -> tuple[int, float] | None:
        span = self.span_at(at_ms)
        if not span.bin.device or not sensor:
            return None
        index = self._spans.index(span)
        key = (index, kind.value, sensor, *window)
        if key not in self._series:
            self._series[key] = self._reader.history(
                self._tenant,
                kind,
                (span.bin.site, span.bin.device, sensor),
                window[0] - MAX_READING_AGE_MS - 1,
                window[1],
            )
        series = self._series[key]
        at = int(np.searchsorted(series.ts_ms, at_ms, side="right")) - 1
        if at < 0:
            return None
        ts = int(series.ts_ms[at])
        attached = self._attached_from(index)
        if ts < at_ms - MAX_READING_AGE_MS or (attached is not None and ts < attached):
            return None
        return ts, float(series.values[at])

    def points(
        self,
        times: Sequence[tuple[int, WorkRecord | None]],
        records: Sequence[WorkRecord],
        tolerance: float,
    ) -> list[QuantityPoint]:
        """A point at each (time, record at it or None), in the order given (sorted by time)."""
        out = []
        for at_ms, record, window in _clusters(times):
            bin_ = self.span_at(at_ms).bin
            weight = self._reading(SensorKind.BIN_WEIGHT, bin_.weight_sensor, at_ms, window)
            count = self._reading(SensorKind.ITEM_COUNT, bin_.count_sensor, at_ms, window)
            out.append(
                QuantityPoint(
                    at_ms=at_ms,
                    tolerance=tolerance,
                    book=book_at(records, at_ms),
                    weight_kg=None if weight is None else weight[1],
                    weight_at_ms=None if weight is None else weight[0],
                    # A bin without a unit weight cannot turn kilograms into items.
                    weighed=None
                    if weight is None or bin_.unit_kg <= 0
                    else items_of(weight[1], bin_),
                    counter=None if count is None else count[1],
                    counter_at_ms=None if count is None else count[0],
                    record=record,
                )
            )
        return out


def _clusters(
    times: Sequence[tuple[int, WorkRecord | None]],
) -> list[tuple[int, WorkRecord | None, tuple[int, int]]]:
    """Each time with the window of its cluster: times closer than a reading's age share one."""
    out: list[tuple[int, WorkRecord | None, tuple[int, int]]] = []
    group: list[tuple[int, WorkRecord | None]] = []

    def flush() -> None:
        window = (group[0][0], group[-1][0])
        out.extend((t, r, window) for t, r in group)
        group.clear()

    for t, r in times:
        if group and t - group[-1][0] > MAX_READING_AGE_MS:
            flush()
        group.append((t, r))
    if group:
        flush()
    return out


@dataclass(frozen=True, slots=True)
class QuantityAlert:
    """A stored discrepancy alert, with its explanation in English and Japanese apart."""

    alert: Alert
    en: str
    ja: str


@dataclass(frozen=True, slots=True)
class BinQuantity:
    """A bin's quantities: now (or at the end of a range), its stocktakes, points, alerts."""

    bin: BinAsset
    tolerance: float
    tolerance_default: bool
    now: QuantityPoint
    opening: WorkRecord | None
    last_stocktake: QuantityPoint | None
    points: list[QuantityPoint] = field(default_factory=list)
    alerts: list[QuantityAlert] = field(default_factory=list)

    @property
    def over_tolerance(self) -> bool:
        """Beyond the tolerance now, or at the last stocktake."""
        return self.now.over or (self.last_stocktake is not None and self.last_stocktake.over)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def reasons(bin_: BinAsset, point: QuantityPoint) -> tuple[str, str]:
    """Why a point is beyond the tolerance, in English and Japanese (times in JST)."""
    at = dt.datetime.fromtimestamp(point.at_ms / 1000, JST).strftime("%Y-%m-%d %H:%M")
    d = point.discrepancy or 0.0
    if point.basis is Basis.WEIGHT:
        how_en = (
            f"(weight {_fmt(point.weight_kg, 2)} kg − tare {bin_.tare_kg:g} kg) ÷ "
            f"{bin_.unit_kg:g} kg per item"
        )
        how_ja = (
            f"（重量 {_fmt(point.weight_kg, 2)} kg − 風袋 {bin_.tare_kg:g} kg）÷ "
            f"単重 {bin_.unit_kg:g} kg"
        )
    else:
        how_en, how_ja = "item counter", "個数カウンター"
    if point.counted is not None:
        said_en, said_ja = f"stocktake counted {point.counted:g}", f"棚卸数 {point.counted:g} 個"
    else:
        said_en, said_ja = f"book stock {_fmt(point.book)}", f"帳簿在庫 {_fmt(point.book)} 個"
    en = (
        f"bin {bin_.asset} ({bin_.item}): {said_en} but measured {_fmt(point.measured)} "
        f"({how_en}) at {at} JST; discrepancy {d:+.1f} beyond the tolerance of "
        f"{point.tolerance:g}"
    )
    ja = (
        f"ビン {bin_.asset}（{bin_.item}）: {said_ja}に対し計測在庫 {_fmt(point.measured)} 個"
        f"（{how_ja}、{at} JST）。差 {d:+.1f} 個が許容差 {point.tolerance:g} 個を超えています"
    )
    return en, ja

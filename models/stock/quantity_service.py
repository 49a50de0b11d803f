"""The quantity confirmation service: every bin's quantities now and over time, and its alerts.

What the quantities are and when an alert is raised: `models.stock.quantity`. The service reads
the registry and the records afresh on every call (a record just entered must count), the
readings through `AssetReader`, and writes alerts through `AlertStore` with ids that make every
check idempotent. It checks on every read; `check` and `check_records` are for the records
route, the alerts service and the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from models.stock.quantity import (
    CHECK_MS,
    KINDS,
    MAX_SPAN_MS,
    MOVEMENTS,
    OPENINGS,
    SETTLE_MS,
    STEP_MS,
    BinNotFoundError,
    BinQuantity,
    Measure,
    QuantityAlert,
    QuantityPoint,
    QuantityRangeError,
    Span,
    bin_spans,
    opening_at,
    reasons,
    tolerance_of,
)
from storage.alert_types import Alert, AlertKind, AlertNotFoundError
from storage.alerts import AlertStore
from storage.assets import BinAsset, Registry, asset_history, read_assets
from storage.errors import StoreDownError, StoreError
from storage.protocol import ReadingStore
from storage.readings import from_store
from storage.records import RecordKind, WorkRecord, read_records
from storage.series import AssetReader

# Who resolves an alert that records without an author account for.
CHECK_ACTOR = "quantity-check"


class QuantityService:
    """Quantity confirmation of a tenant's bins from the store; raises its alerts there."""

    def __init__(
        self,
        store: ReadingStore,
        reader: AssetReader,
        alerts: AlertStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Read the registry and records from `store`, readings through `reader`."""
        self._store = store
        self._reader = reader
        self._alerts = alerts
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _registry(self, tenant: str, sites: Sequence[str]) -> Registry:
        store = self._store
        return from_store(lambda: read_assets(store, tenant, sites), Registry())

    def _records(
        self, tenant: str, sites: Sequence[str]
    ) -> dict[tuple[str, str], list[WorkRecord]]:
        store = self._store
        found = from_store(
            lambda: read_records(store, tenant, sites=sites, kinds=KINDS),
            [],
        )
        out: dict[tuple[str, str], list[WorkRecord]] = {}
        for r in found:
            out.setdefault((r.site, r.asset), []).append(r)
        return out

    def _history_spans(self, tenant: str, bin_: BinAsset) -> list[Span]:
        store = self._store
        history = from_store(
            lambda: asset_history(store, tenant, bin_.site, bin_.asset),
            [],
        )
        return bin_spans(history, bin_)

    def bins(
        self, tenant: str, site: str | None = None, *, check: bool = True
    ) -> list[BinQuantity]:
        """Every registered bin (of `site`) as of now; checks `CHECK_MS` back for alerts.

        "Now" is the newest reading or record of the bin when both are older than the clock (a
        device gone quiet, data replayed from the past): what is shown was last known then.
        """
        now = self._now_ms()
        sites = [site] if site else []
        registry = self._registry(tenant, sites)
        bins = sorted(registry.all_bins(), key=lambda b: (b.site, b.asset))
        if not bins:
            return []
        records = self._records(tenant, sites)
        latest = self._reader.latest(tenant, (SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT), sites)
        out = []
        for b in bins:
            mine = records.get((b.site, b.asset), [])
            known = [r.at_ms for r in mine[-1:]] + [
                latest[b.site, b.device, s].time_ms
                for s in (b.weight_sensor, b.count_sensor)
                if (b.site, b.device, s) in latest
            ]
            as_of = min(now, max(known)) if known else now
            out.append(
                self._quantity(
                    tenant, b, mine, start_ms=as_of - CHECK_MS, end_ms=as_of, check=check
                )
            )
        return out

    def bin(
        self, tenant: str, site: str, asset: str, start_ms: int, end_ms: int, *, check: bool = True
    ) -> BinQuantity:
        """One bin's points in [start, end], its state at `end`; BinNotFoundError if none."""
        if not start_ms < end_ms or end_ms - start_ms > MAX_SPAN_MS:
            raise QuantityRangeError(
                f"need start < end and at most {MAX_SPAN_MS // MS_PER_DAY} days"
            )
        registry = self._registry(tenant, [site])
        found = [b for b in registry.bins.get(site, []) if b.asset == asset]
        if not found:
            raise BinNotFoundError(f"no bin {asset!r} at site {site!r}")
        records = self._records(tenant, [site]).get((site, asset), [])
        return self._quantity(
            tenant, found[0], records, start_ms=start_ms, end_ms=end_ms, check=check, keep=True
        )

    def check(
        self, tenant: str, *, sites: Sequence[str] = (), start_ms: int | None = None
    ) -> list[QuantityAlert]:
        """Check every bin (of `sites`) from `start_ms` (default: `CHECK_MS` ago) to now."""
        now = self._now_ms()
        window = _check_window(start_ms, now)
        registry = self._registry(tenant, sites)
        records = self._records(tenant, sites)
        out: list[QuantityAlert] = []
        for b in registry.all_bins():
            out.extend(
                self._quantity(
                    tenant,
                    b,
                    records.get((b.site, b.asset), []),
                    start_ms=window,
                    end_ms=now,
                    check=True,
                ).alerts
            )
        return out

    def check_records(self, tenant: str, records: Sequence[WorkRecord]) -> list[QuantityAlert]:
        """Check the bins of newly stored (or voided) records, from the oldest of them to now.

        An open alert of those bins from then on that the check no longer raises is withdrawn:
        resolved, saying why, in the name of whoever voided the stocktake or book stock it was
        raised on, or else of whoever entered the records that now account for the difference
        (a delivery or withdrawal entered late). An alert a record still standing gives again
        stays open.
        """
        mine = [r for r in records if r.kind in KINDS]
        if not mine:
            return []
        sites = sorted({r.site for r in mine})
        start_ms = min(r.at_ms for r in mine)
        raised = self.check(tenant, sites=sites, start_ms=start_ms)
        now = self._now_ms()
        # An alert older than the window check() looked at was not checked again.
        since = _check_window(start_ms, now)
        self._withdraw(tenant, mine, {a.alert.id for a in raised}, since, now)
        return raised

    def _withdraw(
        self, tenant: str, records: list[WorkRecord], kept: set[str], since: int, now: int
    ) -> None:
        """Resolve the open quantity alerts of the records' bins raised in [since, now] that are
        not in `kept` (the ones the check just raised again)."""
        registry = self._registry(tenant, sorted({r.site for r in records}))
        voided = {(r.site, r.asset, r.at_ms): r for r in records if r.voided and r.kind in OPENINGS}
        # An alert on a voided opening goes however old it is; any other only if checked again.
        oldest = min([since, *(at for _, _, at in voided)])
        try:
            views = self._alerts.raised_between(tenant, oldest, now + 1)
        except StoreError as exc:
            raise StoreDownError(str(exc)) from exc
        for site, asset in sorted({(r.site, r.asset) for r in records}):
            bin_ = next((b for b in registry.bins.get(site, []) if b.asset == asset), None)
            if bin_ is None:
                continue
            channels = {
                (s.bin.device, s.bin.weight_sensor or s.bin.count_sensor)
                for s in self._history_spans(tenant, bin_)
            }
            entered = [r for r in records if (r.site, r.asset) == (site, asset) and not r.voided]
            for view in views:
                alert = view.alert
                if (
                    alert.kind is not AlertKind.QUANTITY
                    or alert.site != site
                    or (alert.device, alert.sensor) not in channels
                    or view.resolved is not None
                    or alert.id in kept
                ):
                    continue
                opening = voided.get((site, asset, alert.ts_ms))
                if opening is not None:
                    by, note = opening.voided_by, _withdrawn(opening)
                elif entered and alert.ts_ms >= since:
                    by, note = entered[-1].by, _explained(entered)
                else:
                    continue
                try:
                    self._alerts.resolve(tenant, alert.id, by or CHECK_ACTOR, note=note)
                except StoreError as exc:
                    raise StoreDownError(str(exc)) from exc

    def _quantity(
        self,
        tenant: str,
        bin_: BinAsset,
        records: list[WorkRecord],
        *,
        start_ms: int,
        end_ms: int,
        check: bool,
        keep: bool = False,
    ) -> BinQuantity:
        tolerance = tolerance_of(bin_)
        measure = Measure(self._reader, tenant, self._history_spans(tenant, bin_))
        times: dict[int, WorkRecord | None] = {}
        first_step = -(-start_ms // STEP_MS) * STEP_MS
        for t in range(first_step, end_ms + 1, STEP_MS):
            times[t] = None
        openings = [r for r in records if r.kind in OPENINGS and r.quantity is not None]
        first_opening = opening_at(records, start_ms)
        if first_opening is not None:
            times[first_opening.at_ms] = first_opening
        for r in records:
            if start_ms <= r.at_ms <= end_ms:
                times[r.at_ms] = r
        stocktakes = [r for r in records if r.kind is RecordKind.STOCKTAKE and r.at_ms <= end_ms]
        last_take = stocktakes[-1] if stocktakes else None
        if last_take is not None:
            times[last_take.at_ms] = last_take
        times.setdefault(end_ms, None)
        points = measure.points(sorted(times.items(), key=lambda i: i[0]), records, tolerance)
        by_time = {p.at_ms: p for p in points}
        alerts = (
            self._raise(
                tenant, bin_, openings=openings, points=points, records=records, measure=measure
            )
            if check
            else []
        )
        shown = [p for p in points if start_ms <= p.at_ms <= end_ms] if keep else []
        return BinQuantity(
            bin=bin_,
            tolerance=tolerance,
            tolerance_default=bin_.tolerance is None,
            now=by_time[end_ms],
            opening=opening_at(records, end_ms),
            last_stocktake=by_time[last_take.at_ms] if last_take is not None else None,
            points=shown,
            alerts=alerts,
        )

    def _raise(
        self,
        tenant: str,
        bin_: BinAsset,
        *,
        openings: list[WorkRecord],
        points: list[QuantityPoint],
        records: list[WorkRecord],
        measure: Measure,
    ) -> list[QuantityAlert]:
        """One alert per opening whose points (itself, settled steps) go beyond the tolerance."""
        movements = [r.at_ms for r in records if r.kind in MOVEMENTS]
        out = []
        for i, opening in enumerate(openings):
            end = openings[i + 1].at_ms if i + 1 < len(openings) else None
            evidence = [
                p
                for p in points
                if p.over
                and p.at_ms >= opening.at_ms
                and (end is None or p.at_ms < end)
                and _evidence(p, opening, movements)
            ]
            if not evidence:
                continue
            alert = self._alert(tenant, bin_, opening, evidence, measure)
            if alert is not None:
                out.append(alert)
        return out

    def _alert(
        self,
        tenant: str,
        bin_: BinAsset,
        opening: WorkRecord,
        evidence: list[QuantityPoint],
        measure: Measure,
    ) -> QuantityAlert | None:
        span = measure.span_at(opening.at_ms).bin
        if not span.device:
            span = next(
                (
                    measure.span_at(p.at_ms).bin
                    for p in evidence
                    if measure.span_at(p.at_ms).bin.device
                ),
                span,
            )
        if not span.device:
            return None
        sensor = span.weight_sensor or span.count_sensor
        first = evidence[0] if evidence[0].at_ms == opening.at_ms else None
        worst = first or max(evidence, key=lambda p: abs(p.discrepancy or 0.0))
        d = abs(worst.discrepancy or 0.0)
        en, ja = reasons(bin_, worst)
        alert = Alert(
            tenant=tenant,
            site=bin_.site,
            device=span.device,
            sensor=sensor,
            kind=AlertKind.QUANTITY,
            ts_ms=opening.at_ms,
            score=min(1.0, d / (4 * worst.tolerance)),
            reason=en,
            last_seen_ms=evidence[-1].at_ms,
            reason_ja=ja,
        )
        try:
            try:
                stored = self._alerts.get(tenant, alert.id).alert
            except AlertNotFoundError:
                stored = None
            # A check over a shorter window must not move the episode's last evidence back.
            if stored is not None and stored.last_seen_ms >= alert.last_seen_ms:
                alert = stored
            else:
                self._alerts.write([alert])
        except StoreError as exc:
            raise StoreDownError(str(exc)) from exc
        return QuantityAlert(alert, en, ja)


def _evidence(point: QuantityPoint, opening: WorkRecord, movements: list[int]) -> bool:
    """The opening itself, or a step not at a movement and settled after the last one."""
    if point.record is not None:
        return point.record.record == opening.record
    before = [m for m in movements if m <= point.at_ms]
    return not before or point.at_ms - before[-1] >= SETTLE_MS


def _check_window(start_ms: int | None, now: int) -> int:
    """Where a check from `start_ms` (None: `CHECK_MS` ago) begins: never later than `CHECK_MS`
    ago, never earlier than the longest range the API serves."""
    start = now - CHECK_MS if start_ms is None else min(start_ms, now - CHECK_MS)
    return max(start, now - MAX_SPAN_MS)


def _explained(records: list[WorkRecord]) -> str:
    """The note of an alert withdrawn because records entered later account for the difference."""
    names = ", ".join(
        f"{r.kind.value} {r.record}".strip() for r in sorted(records, key=lambda r: r.at_ms)
    )
    return (
        f"取り下げ: 後から入力された記録 ({names}) で差が説明されました / "
        f"withdrawn: records entered later ({names}) account for the difference"
    )


def _withdrawn(record: WorkRecord) -> str:
    """The note of an alert withdrawn because the record it was raised on was voided."""
    what = {
        RecordKind.STOCKTAKE: ("stocktake", "棚卸"),
        RecordKind.BOOK_STOCK: ("book stock", "帳簿在庫"),
    }
    en, ja = what.get(record.kind, (record.kind.value, record.kind.value))
    return (
        f"取り下げ: この警報の元になった{ja}の記録 {record.record} が取り消されました / "
        f"withdrawn: the {en} record {record.record} it was raised on was voided"
    )

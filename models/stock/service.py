"""Stock levels, stock-out forecasts and reorder flags of a tenant's registered bins.

A bin is listed when the asset registry describes it (`BinAsset`); its level is the newest
reading of its load cell and item counter. The forecast is
`models.stock.stockout.forecast_stockout` on the last four weeks of the load cell's readings
(the item counter's when the bin has no weighed history), as of the newest reading, with the
bin's lead time: `reorder` is the model's
flag, raised when the lower end of the 80 % stock-out interval falls within the lead time, so
that an order placed now still arrives before the bin is likely to run empty.

Delivery work records of the bin (items, times the unit weight for the load cell) tell the
forecast where the level rose because stock came in, and which deliveries are still expected
(recorded for a time after the newest reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.cache import TtlCache
from core.time import MS_PER_HOUR
from edge.protocol import SensorKind
from models.stock.stockout import Delivery, StockoutError, StockoutForecast, forecast_stockout
from storage.assets import BinAsset
from storage.records import RecordKind, WorkRecord
from storage.series import AssetReader, Latest, Series

HISTORY_DAYS = 28
# forecast_stockout walks this far ahead; a forecast at the horizon means "not within it".
HORIZON_H = 24.0 * 28


class Basis(StrEnum):
    """Which sensor a forecast was computed from."""

    WEIGHT = "weight"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class StockoutView:
    """A bin's stock-out forecast: when, with its 80 % interval, from which sensor."""

    basis: Basis
    forecast: StockoutForecast

    @property
    def low_ms(self) -> int:
        """Early end of the interval (ms since epoch)."""
        return self.forecast.now_ms + round(self.forecast.hours_low * MS_PER_HOUR)

    @property
    def high_ms(self) -> int:
        """Late end of the interval (ms since epoch)."""
        return self.forecast.now_ms + round(self.forecast.hours_high * MS_PER_HOUR)


@dataclass(frozen=True, slots=True)
class BinStatus:
    """A registered bin with its latest level and, when the history allows, its forecast."""

    bin: BinAsset
    weight: Latest | None
    count: Latest | None
    stockout: StockoutView | None
    unavailable: str | None

    @property
    def reorder(self) -> bool:
        """Whether to order now: the forecast says the bin may be empty within the lead time."""
        return self.stockout is not None and self.stockout.forecast.reorder


def forecast_bin(
    history: Series, lead_time_h: float, deliveries: tuple[Delivery, ...] = ()
) -> StockoutForecast:
    """The stock-out forecast of one bin's level history, as of its newest reading."""
    return forecast_stockout(
        history.ts_ms, history.values, lead_time_h=lead_time_h, deliveries=deliveries
    )


def deliveries_of(records: list[WorkRecord], bin_: BinAsset, basis: Basis) -> tuple[Delivery, ...]:
    """Recorded deliveries of items into the bin, in the unit of the forecast's level."""
    per_item = bin_.unit_kg if basis is Basis.WEIGHT else 1.0
    return tuple(
        Delivery(r.at_ms, float(r.quantity or 0.0) * per_item)
        for r in records
        if r.kind is RecordKind.DELIVERY and not r.voided
    )


class StockService:
    """Computes every bin's status for a tenant; answers are cached for a few seconds."""

    def __init__(self, reader: AssetReader, ttl_s: float) -> None:
        """Read through `reader`; keep each tenant's answer `ttl_s` seconds."""
        self._reader = reader
        self._answers: TtlCache[list[BinStatus]] = TtlCache(ttl_s)

    def bins(self, tenant: str) -> list[BinStatus]:
        """Every registered bin of the tenant, ordered by site and bin."""
        return self._answers.get(tenant, lambda: self._compute(tenant))

    def _compute(self, tenant: str) -> list[BinStatus]:
        registry = self._reader.registry(tenant)
        bins = sorted(registry.all_bins(), key=lambda b: (b.site, b.asset))
        if not bins:
            return []
        sites = sorted({b.site for b in bins})
        latest = self._reader.latest(tenant, (SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT), sites)
        return [self._status(tenant, b, latest) for b in bins]

    def _status(
        self, tenant: str, bin_: BinAsset, latest: dict[tuple[str, str, str], Latest]
    ) -> BinStatus:
        weight = latest.get((bin_.site, bin_.device, bin_.weight_sensor))
        count = latest.get((bin_.site, bin_.device, bin_.count_sensor))
        if weight is not None:
            basis, kind, sensor, last = (
                Basis.WEIGHT,
                SensorKind.BIN_WEIGHT,
                bin_.weight_sensor,
                weight,
            )
        elif count is not None:
            basis, kind, sensor, last = Basis.COUNT, SensorKind.ITEM_COUNT, bin_.count_sensor, count
        else:
            return BinStatus(bin_, None, None, None, "no readings yet")
        start = last.time_ms - HISTORY_DAYS * 24 * MS_PER_HOUR
        history = self._reader.history(
            tenant, kind, (bin_.site, bin_.device, sensor), start, last.time_ms
        )
        records = self._reader.records(tenant, bin_.site, bin_.asset, (RecordKind.DELIVERY,))
        deliveries = deliveries_of([r for r in records if r.at_ms >= start], bin_, basis)
        try:
            forecast = forecast_bin(history, bin_.lead_time_h, deliveries)
        except StockoutError as exc:
            return BinStatus(bin_, weight, count, None, str(exc))
        return BinStatus(bin_, weight, count, StockoutView(basis, forecast), None)

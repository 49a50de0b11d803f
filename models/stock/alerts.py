"""The stock detectors of a factory bin, as the alerts service feeds them.

`StockDetectors` runs the load-cell detector (`models.stock.loadcell`: steps, spikes and
mis-scans of the weight-count residual, stuck and dead cells judged as real weighing indicators
behave, pilferage and temperature drift) on each weight and count pair (a bin without an item
counter: on each weight) with the hall's temperature where the site measures it; and, once a
week of weight history is known, the stock-out forecast every `reorder_every_ms`: a reorder
alert when its lower bound falls inside the bin's reorder lead time. `BinState` is alerting's
per-bin pairing and episode folding around these detectors.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TypeVar

from alerting.bins import BinRef
from alerting.detect import BinPairing, DetectOptions, Evidence
from core.time import JST, MS_PER_HOUR
from models.stock.loadcell import LoadCellDetector
from models.stock.stockout import StockoutError, StockoutForecaster
from storage.alert_types import AlertKind

H = TypeVar("H")


def _hours(value: float) -> str:
    return "more than 4 weeks" if value >= 24 * 28 else f"{value:.0f} h"


class StockDetectors:
    """The load-cell detector and the stock-out forecast of one bin."""

    def __init__(self, ref: BinRef, options: DetectOptions) -> None:
        """Untrained; the forecast looks back `options.forecast_window_days`."""
        self._options = options
        self._detector = LoadCellDetector()
        self._forecaster = StockoutForecaster(
            window_days=options.forecast_window_days, lead_time_h=ref.lead_time_h
        )
        self._first_weight: int | None = None
        self._last_forecast: int | None = None

    def learn_weight(self, ts: int, weight: float) -> None:
        """Add a weight reading to the stock-out forecast's window."""
        self._forecaster.learn_one(ts, weight)
        if self._first_weight is None:
            self._first_weight = ts
        else:
            # The forecaster forgets readings beyond its window; so does this bound.
            window = int(self._options.forecast_window_days * 24 * MS_PER_HOUR)
            self._first_weight = max(self._first_weight, ts - window)

    def learn_pair(self, ts: int, weight: float, count: float) -> None:
        """Train the anomaly detector on a stored pair (its findings are old news); a NaN count
        is a bin without a counter."""
        self._detector.learn_one(ts, weight, count)

    def feed(
        self, ref: BinRef, ts: int, weight: float, count: float, temperature: float = math.nan
    ) -> list[Evidence]:
        """Run both detectors on a live pair (NaN count: no counter; NaN temperature: none
        known)."""
        found: list[Evidence] = []
        for anomaly in self._detector.score_one(ts, weight, count, temperature):
            kind = AlertKind.of(anomaly.kind)
            sensor = ref.count_sensor if kind is AlertKind.COUNT_JUMP else ref.weight_sensor
            found.append(
                Evidence(
                    kind,
                    sensor,
                    anomaly.score,
                    f"bin {ref.bin}: {anomaly.reason}",
                    f"ビン {ref.bin}: {anomaly.reason_ja}" if anomaly.reason_ja else "",
                )
            )
        self.learn_weight(ts, weight)
        self._forecaster.lead_time_h = ref.lead_time_h
        seen_ms = ts - self._first_weight if self._first_weight is not None else 0
        due = seen_ms >= self._options.forecast_min_history_ms and (
            self._last_forecast is None
            or ts - self._last_forecast >= self._options.reorder_every_ms
        )
        if ref.lead_time_h > 0 and due:
            self._last_forecast = ts
            reorder = self._reorder(ref, ts)
            if reorder is not None:
                found.append(reorder)
        return found

    def _reorder(self, ref: BinRef, ts: int) -> Evidence | None:
        """A reorder when the stock-out forecast's lower bound is inside the lead time."""
        try:
            forecast = self._forecaster.forecast_one(ts)
        except StockoutError:
            return None  # not enough history yet
        if not forecast.reorder:
            return None
        lead = ref.lead_time_h
        score = min(1.0, max(0.05, (lead - forecast.hours_low) / lead))
        empty_at = dt.datetime.fromtimestamp(forecast.stockout_ms / 1000, JST)
        reason = (
            f"bin {ref.bin}: stock-out expected in {_hours(forecast.hours_median)} "
            f"(around {empty_at:%Y-%m-%d %H:%M} JST; 80 % interval "
            f"{forecast.hours_low:.0f}–{forecast.hours_high:.0f} h), within the reorder lead "
            f"time of {lead:g} h"
        )
        reason_ja = (
            f"ビン {ref.bin}: 約 {forecast.hours_median:.0f} 時間後"
            f"（{empty_at:%Y-%m-%d %H:%M} JST 頃、80 % 区間 "
            f"{forecast.hours_low:.0f}〜{forecast.hours_high:.0f} 時間）に欠品の見込みで、"
            f"発注リードタイム {lead:g} 時間以内です"
        )
        return Evidence(AlertKind.REORDER, ref.weight_sensor, score, reason, reason_ja)


class BinState(BinPairing[H]):
    """One factory bin watched by the stock detectors."""

    def __init__(self, ref: BinRef, options: DetectOptions) -> None:
        """Start empty; `warm` replays stored history before live readings arrive."""
        super().__init__(ref, options, StockDetectors(ref, options))

"""`shinshu train`: fit models from the store, check them on held-out data, register them.

Harvest: daily weather per farm field comes from the stored readings (`models.store_weather`);
seasons (planting, maturity and yield) come from a CSV file, since people record those, not
sensors. The field id in that file is the farm's site id (one field per farm site). The latest
quarter of the seasons, by planting date, is held out: a model fitted on the earlier seasons
with the weather before the split must beat the 10 °C GDD baseline on maturity (at 50 % and
75 % of each held-out season) and do no worse than climatology on yield (at 75 %), or the new
version is registered as rejected and the previous good one stays in service. A version that
passes is refitted on every season and all the weather before it is registered.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.time import from_day_number, local_today
from models.errors import ModelError
from models.harvest.climate import PRE_DAYS
from models.harvest.csvio import from_day, read_seasons
from models.harvest.evaluation import as_of_share, summarize
from models.harvest.model import HarvestForecaster
from models.harvest.persist import HARVEST_CODEC
from models.harvest.predict import predict_all
from models.harvest.types import (
    MODEL_NAME,
    FieldWeather,
    HarvestDataError,
    PredictionStatus,
    SeasonRecord,
)
from models.registry import Better, Metric, ModelMeta, ModelRegistry
from models.store_weather import read_daily_weather
from storage.assets import read_assets
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

HARVEST = MODEL_NAME
HOLDOUT_SHARE = 0.25
MIN_HELD_OUT = 3
SHARES = (0.5, 0.75)

Progress = Callable[[str], None]


class TrainingError(ModelError):
    """Training could not start or finish (unusable seasons file, no weather in the store)."""


@dataclass(frozen=True, slots=True)
class TrainingRequest:
    """What to train: a tenant's harvest model from a seasons file over an optional window."""

    tenant: str
    seasons: Path
    start: dt.date | None = None
    end: dt.date | None = None
    holdout: float = HOLDOUT_SHARE
    yield_unit: str = "t/ha"


def _window(request: TrainingRequest, seasons: list[SeasonRecord]) -> tuple[dt.date, dt.date]:
    """The days of weather to read: from before the first planting to yesterday by default."""
    first = from_day_number(min(s.planting for s in seasons) - PRE_DAYS)
    start = request.start or first
    end = request.end or local_today() - dt.timedelta(days=1)
    if end < start:
        raise TrainingError(f"the training window {start} .. {end} is empty")
    return start, end


def _truncate(weather: dict[str, FieldWeather], last_day: int) -> dict[str, FieldWeather]:
    """Every field's weather up to and including `last_day`."""
    cut = {key: w.until(last_day) for key, w in weather.items()}
    return {key: w for key, w in cut.items() if w is not None}


def _observed_span(weather: dict[str, FieldWeather]) -> tuple[dt.date, dt.date]:
    """First and last day with a temperature in any field (the window actually trained on)."""
    days = [
        w.first_day + np.flatnonzero(np.isfinite(w.tmin))[[0, -1]]
        for w in weather.values()
        if np.isfinite(w.tmin).any()
    ]
    first = min(int(d[0]) for d in days)
    last = max(int(d[1]) for d in days)
    return from_day_number(first), from_day_number(last)


def split_seasons(
    seasons: list[SeasonRecord], share: float
) -> tuple[list[SeasonRecord], list[SeasonRecord], int | None]:
    """Earlier and later seasons by planting day, and the first held-out planting day."""
    ordered = sorted(seasons, key=lambda s: s.planting)
    held = max(1, math.ceil(share * len(ordered)))
    if len(ordered) - held < 1:
        return ordered, [], None
    cut = ordered[len(ordered) - held].planting
    return [s for s in ordered if s.planting < cut], [s for s in ordered if s.planting >= cut], cut


def held_out_metrics(
    model: HarvestForecaster, weather: dict[str, FieldWeather], held_out: list[SeasonRecord]
) -> tuple[dict[str, Metric], int, str]:
    """Metrics of `model` on held-out seasons against both baselines; cases; reason if none."""
    metrics: dict[str, Metric] = {}
    cases = 0
    for share in SHARES:
        predictions = predict_all(model, weather, as_of_share(held_out, share), None)
        ok = [p for p in predictions if p.status is PredictionStatus.OK]
        if len(ok) < MIN_HELD_OUT:
            statuses = Counter(p.status.value for p in predictions)
            return {}, len(ok), f"only {len(ok)} held-out season(s) could be scored ({statuses})"
        s = summarize(predictions, share)
        cases = s.cases
        pct = round(share * 100)
        metrics[f"maturity_mae_days_at_{pct}"] = Metric(
            s.maturity_mae,
            s.gdd_maturity_mae,
            passed=s.maturity_mae < s.gdd_maturity_mae,
            note="baseline: 10 °C growing-degree days plus climatology; must be beaten",
        )
        metrics[f"maturity_coverage_at_{pct}"] = Metric(
            s.maturity_coverage, None, Better.HIGHER, note="share inside the 80 % interval"
        )
        if share == SHARES[-1]:
            metrics[f"yield_mae_at_{pct}"] = Metric(
                s.yield_mae,
                s.clim_yield_mae,
                passed=s.yield_mae <= s.clim_yield_mae,
                note="baseline: the crop's mean yield; must not be worse (a crop with too few "
                "seasons for a yield model forecasts that mean itself)",
            )
            metrics[f"yield_coverage_at_{pct}"] = Metric(
                s.yield_coverage, None, Better.HIGHER, note="share inside the 80 % interval"
            )
    return metrics, cases, ""


def _fields(store: ReadingStore, tenant: str, seasons: list[SeasonRecord]) -> dict[str, str | None]:
    """Site → device of each field in the seasons file (the registered device when known)."""
    registry = read_assets(store, tenant, sorted({s.field_id for s in seasons}))
    out: dict[str, str | None] = {}
    for s in seasons:
        assets = registry.fields.get(s.field_id, [])
        out[s.field_id] = assets[0].device if assets else None
    return out


def train_harvest(
    store: ReadingStore,
    registry: ModelRegistry,
    request: TrainingRequest,
    progress: Progress = log.info,
) -> ModelMeta:
    """Read, split, fit, score and register one harvest model version."""
    try:
        seasons = read_seasons(request.seasons, need_truth=True)
    except HarvestDataError as exc:
        raise TrainingError(str(exc)) from exc
    start, end = _window(request, seasons)
    fields = _fields(store, request.tenant, seasons)
    progress(f"reading daily weather of {len(fields)} field(s), {start} .. {end} (Asia/Tokyo)")
    weather = read_daily_weather(store, request.tenant, fields, start, end)
    for site in sorted(fields):
        days = int(np.isfinite(weather[site].tmin).sum()) if site in weather else 0
        progress(f"  {site}: {days} day(s) with temperatures")
    if not weather:
        raise TrainingError(f"no temperatures of these fields in the store in {start} .. {end}")
    observed = _observed_span(weather)
    train, held_out, cut = split_seasons(seasons, request.holdout)
    metrics: dict[str, Metric] = {}
    reason = ""
    cases = 0
    if cut is None or len(held_out) < MIN_HELD_OUT:
        reason = f"{len(seasons)} season(s) are too few to hold {MIN_HELD_OUT} out"
    else:
        progress(
            f"fitting on {len(train)} season(s) planted before {from_day(cut)}, "
            f"holding out {len(held_out)}"
        )
        try:
            trial = HarvestForecaster().fit(_truncate(weather, cut - 1), train)
            metrics, cases, reason = held_out_metrics(trial, weather, held_out)
        except HarvestDataError as exc:
            reason = f"the earlier seasons cannot be fitted: {exc}"
    for name, m in metrics.items():
        against = "" if m.baseline is None else f" (baseline {m.baseline:.3f})"
        verdict = "" if m.passed else "  FAILED"
        progress(f"  {name}: {m.value:.3f}{against}{verdict}")
    progress(f"fitting on all {len(seasons)} season(s)")
    try:
        model = HarvestForecaster().fit(weather, seasons)
    except HarvestDataError as exc:
        raise TrainingError(str(exc)) from exc
    data = {
        "tenant": request.tenant,
        "seasons_file": request.seasons.name,
        "yield_unit": request.yield_unit,
        "seasons": len(seasons),
        "seasons_used": sum(c.seasons for c in model.crops_.values()),
        "held_out": len(held_out),
        "held_out_scored": cases,
        "split_planting_date": None if cut is None else from_day(cut),
        "crops": {name: c.seasons for name, c in model.crops_.items()},
        "fields": sorted(weather),
        "requested_window": {"start": start.isoformat(), "end": end.isoformat()},
        "skipped": model.skipped_[:20],
    }
    meta = registry.register(
        HARVEST, model, HARVEST_CODEC, window=observed, metrics=metrics, data=data, reason=reason
    )
    progress(
        f"registered {meta.name} v{meta.version} ({meta.status.value}"
        f"{': ' + meta.reason if meta.reason else ''}) -> {registry.root / meta.name}"
    )
    return meta

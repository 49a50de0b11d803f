"""`shinshu train`: fit models from the store, check them on held-out data, register them.

Harvest: daily weather per farm field comes from the stored readings (`models.store_weather`);
seasons (planting, maturity and yield) come from the work records of the tenant's fields, since
people record those, not sensors: a planting record and the harvest records after it
(`models.harvest.records`). A seasons CSV is imported into records first. The latest
quarter of the seasons, by planting date, is held out: a model fitted on the earlier seasons
with the weather before the split must beat the 10 °C GDD baseline on maturity (as of 50 % and
75 % of the crop's mean season length in the earlier seasons after each held-out planting,
never of the season's own length, which only its outcome tells) and do no worse than
climatology on yield (at 75 %), or the new version is registered as rejected and the previous
good one stays in service. A version that passes is refitted on every season and all the
weather before it is registered.
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

from core.time import day_number, from_day_number, local_today
from models.errors import ModelError
from models.harvest.climate import PRE_DAYS
from models.harvest.csvio import from_day, read_seasons
from models.harvest.evaluation import as_of_share, season_lengths, summarize
from models.harvest.model import HarvestForecaster
from models.harvest.persist import HARVEST_CODEC
from models.harvest.predict import predict_all
from models.harvest.records import YIELD_UNIT, RecordedSeason, recorded_seasons, season_records
from models.harvest.types import (
    MODEL_NAME,
    FieldWeather,
    HarvestDataError,
    PredictionStatus,
    SeasonRecord,
)
from models.registry import Better, Metric, ModelMeta, ModelRegistry
from models.sites.service import RegistryInvalid, RegistryService
from models.store_weather import read_daily_weather
from storage.assets import Registry, read_assets
from storage.protocol import ReadingStore
from storage.records import RecordKind, WorkRecord, read_records

log = logging.getLogger(__name__)

HARVEST = MODEL_NAME
HOLDOUT_SHARE = 0.25
MIN_HELD_OUT = 3
SHARES = (0.5, 0.75)

Progress = Callable[[str], None]
IMPORTED_BY = "seasons-import"


class TrainingError(ModelError):
    """Training could not start or finish (unusable seasons file, no weather in the store)."""


@dataclass(frozen=True, slots=True)
class TrainingRequest:
    """What to train: a tenant's harvest model from its records over an optional window.

    `seasons`, if given, is a seasons CSV imported into the records before training.
    """

    tenant: str
    seasons: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    holdout: float = HOLDOUT_SHARE


def import_seasons(
    store: ReadingStore, tenant: str, path: Path, *, by: str = IMPORTED_BY
) -> list[WorkRecord]:
    """Store the rows of a seasons CSV as planting and harvest records (again: the same ones),
    through the registry's checks; all of them or none."""
    try:
        seasons = read_seasons(path, need_truth=True)
        sites = sorted({s.field_id for s in seasons})
        records = season_records(seasons, read_assets(store, tenant, sites), by=by)
        return RegistryService(store).add_records(tenant, records, by=by)
    except HarvestDataError as exc:
        raise TrainingError(str(exc)) from exc
    except RegistryInvalid as exc:
        shown = "; ".join(f"row {e.index + 1} {e.field}: {e.en}" for e in exc.errors[:5])
        raise TrainingError(f"the records of {path.name} are refused: {shown}") from exc


def training_seasons(
    store: ReadingStore, tenant: str
) -> tuple[list[RecordedSeason], list[str], Registry]:
    """The tenant's seasons from its planting and harvest records, what was skipped and why."""
    records = read_records(store, tenant, kinds=(RecordKind.PLANTING, RecordKind.HARVEST))
    registry = read_assets(store, tenant, sorted({r.site for r in records}))
    recorded, skipped = recorded_seasons(records, registry)
    return recorded, skipped, registry


def _planted_within(
    recorded: list[RecordedSeason], start: dt.date | None, end: dt.date | None
) -> list[RecordedSeason]:
    """The seasons planted on or after `start` and harvested on or before `end` (if given)."""
    first = None if start is None else day_number(start)
    last = None if end is None else day_number(end)
    return [
        r
        for r in recorded
        if (first is None or r.season.planting >= first)
        and (last is None or (r.season.maturity or 0) <= last)
    ]


def _window(request: TrainingRequest, seasons: list[SeasonRecord]) -> tuple[dt.date, dt.date]:
    """The days of weather to read: from before the first planting to yesterday by default."""
    first = from_day_number(min(s.planting for s in seasons) - PRE_DAYS)
    start = min(request.start, first) if request.start else first
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
        # As of a share of the crop's usual length in the earlier seasons: not of the season's
        # own, which only its outcome tells.
        rows = as_of_share(held_out, share, season_lengths(model))
        predictions = predict_all(model, weather, rows, None)
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
            note="baseline: GDD rule, base and target fitted per crop on the training seasons, "
            "plus climatology; must be beaten",
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


def _fields(registry: Registry, recorded: list[RecordedSeason]) -> dict[str, str | None]:
    """Site → device of each season's field (None, any device, while none is attached)."""
    out: dict[str, str | None] = {}
    for r in recorded:
        site = r.season.field_id
        asset = next((f for f in registry.fields.get(site, ()) if f.asset == r.field), None)
        out.setdefault(site, (asset.device if asset else "") or None)
    return out


def train_harvest(
    store: ReadingStore,
    registry: ModelRegistry,
    request: TrainingRequest,
    progress: Progress = log.info,
) -> ModelMeta:
    """Read, split, fit, score and register one harvest model version."""
    if request.seasons is not None:
        imported = import_seasons(store, request.tenant, request.seasons)
        progress(f"imported {len(imported)} record(s) from {request.seasons.name}")
    recorded, skipped, assets = training_seasons(store, request.tenant)
    for line in skipped[:10]:
        progress(f"  skipped {line}")
    if not recorded:
        raise TrainingError(
            "no seasons: the tenant's fields have no planting record followed by a harvest "
            "record (record them, or import a seasons CSV with --seasons)"
        )
    recorded = _planted_within(recorded, request.start, request.end)
    if not recorded:
        raise TrainingError("no recorded season was planted within the training window")
    seasons = [r.season for r in recorded]
    progress(f"{len(seasons)} season(s) from the planting and harvest records")
    start, end = _window(request, seasons)
    fields = _fields(assets, recorded)
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
        "seasons_source": "work records",
        "seasons_file": None if request.seasons is None else request.seasons.name,
        "yield_unit": YIELD_UNIT,
        "seasons": len(seasons),
        "seasons_used": sum(c.seasons for c in model.crops_.values()),
        "held_out": len(held_out),
        "held_out_scored": cases,
        "split_planting_date": None if cut is None else from_day(cut),
        "crops": {name: c.seasons for name, c in model.crops_.items()},
        "fields": sorted(weather),
        "requested_window": {"start": start.isoformat(), "end": end.isoformat()},
        "skipped": model.skipped_[:20],
        "skipped_records": skipped[:20],
        # Which seasons, from which records: a harvest entered by hand can be traced here.
        "training_seasons": [r.to_json() for r in recorded],
    }
    meta = registry.register(
        HARVEST, model, HARVEST_CODEC, window=observed, metrics=metrics, data=data, reason=reason
    )
    progress(
        f"registered {meta.name} v{meta.version} ({meta.status.value}"
        f"{': ' + meta.reason if meta.reason else ''}) -> {registry.root / meta.name}"
    )
    return meta

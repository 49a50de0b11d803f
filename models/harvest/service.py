"""Harvest forecast serving: the season and forecast of each farm field, and the model registry.

A field is a `FieldAsset` of the asset registry; its current season is its newest planting (of
the registry's planting dates and the field's planting work records) on or before the as-of
day, as long as that is within the crop's longest season seen in training. The forecast uses
the tenant's newest good harvest model (`models.registry`), the daily weather of the field
derived from the store since planting, and weather after the as-of day from the model's analog
years. A field without a model or a current season still answers, with a status and the
reason; only a site that is not a registered field of the tenant is "not found".
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.cache import TtlCache
from core.errors import NotFoundError
from core.time import day_number, from_day_number, local_today
from models.harvest.baselines import GDD_BASE_C, daily_gdd
from models.harvest.climate import PRE_DAYS
from models.harvest.types import (
    MODEL_NAME,
    FieldWeather,
    HarvestModelError,
    HarvestPrediction,
    PredictionStatus,
    SeasonRecord,
)
from models.registry import ModelMeta, ModelRegistry, ModelStatus, RegistryError
from storage.assets import FieldAsset, read_assets
from storage.errors import QueryError
from storage.protocol import ReadingStore
from storage.readings import from_store
from storage.records import planting_dates

if TYPE_CHECKING:
    from models.harvest.model import HarvestForecaster

log = logging.getLogger(__name__)

# Without a model to say how long the crop grows, a planting this old is no longer current.
MAX_SEASON_DAYS = 400
MODEL_CACHE_ENTRIES = 8
# Yesterday's weather is complete, so an answer changes only with late readings, a new model or
# a new day; a minute keeps polling dashboards cheap and late readings visible soon.
FORECAST_TTL_S = 60.0
ANSWER_CACHE_ENTRIES = 1_024
DEFAULT_YIELD_UNIT = "t/ha"
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class ForecastStatus(StrEnum):
    """Whether a field's forecast could be made, and if not, why."""

    OK = "ok"
    NO_MODEL = "no_model"  # no good harvest model registered for the tenant
    NO_SEASON = "no_season"  # no planting on or before the as-of day within a season's length
    UNKNOWN_CROP = "unknown_crop"  # the model was not trained on the field's crop
    NO_WEATHER = "no_weather"  # the store holds no weather of the field since planting


@dataclass(frozen=True, slots=True)
class FieldForecast:
    """One field's forecast as of a day, or the reason there is none."""

    asset: FieldAsset
    as_of: dt.date
    status: ForecastStatus
    reason: str = ""
    planting: dt.date | None = None
    prediction: HarvestPrediction | None = None
    gdd: list[tuple[dt.date, float]] = field(default_factory=list)
    model: ModelMeta | None = None

    @property
    def yield_unit(self) -> str:
        """The unit of the training seasons' yields."""
        unit = self.model.data.get("yield_unit") if self.model else None
        return str(unit or DEFAULT_YIELD_UNIT)


def to_date(day: float) -> dt.date:
    """A (fractional) day number as a date, rounded to the nearest day."""
    return from_day_number(round(day))


def _gdd(weather: FieldWeather | None, planting: int, as_of: int) -> list[tuple[dt.date, float]]:
    """Cumulative 10 °C growing-degree days per observed day since planting."""
    if weather is None:
        return []
    out: list[tuple[dt.date, float]] = []
    total = 0.0
    for day in range(planting, as_of + 1):
        i = day - weather.first_day
        if not 0 <= i < len(weather.tmin):
            continue
        g = float(daily_gdd(weather.tmin[i : i + 1], weather.tmax[i : i + 1])[0])
        if math.isnan(g):
            continue  # a day without temperatures adds nothing and is not listed
        total += g
        out.append((from_day_number(day), round(total, 6)))
    return out


# Daily weather of farm fields from the store (`models.store_weather.read_daily_weather`):
# store, tenant, fields (site → its device, or None for any), first and last day.
WeatherSource = Callable[
    [ReadingStore, str, Mapping[str, str | None], dt.date, dt.date], dict[str, FieldWeather]
]


class ForecastService:
    """Forecasts and model versions of a tenant, over one store and one data folder."""

    def __init__(
        self,
        store: ReadingStore,
        data_dir: Path,
        weather: WeatherSource,
        today: Callable[[], dt.date] = local_today,
        ttl_s: float = FORECAST_TTL_S,
    ) -> None:
        """Read from `store` and the registries under `data_dir`; `today` is the local date.

        The fields' daily weather comes from `weather`, handed in by the application so that
        this package does not import the adapter that builds its `FieldWeather` from the store.
        A field's forecast is kept `ttl_s` seconds (0: never) per model version and as-of day.
        """
        self._store = store
        self._read_weather = weather
        self._data_dir = data_dir
        self._today = today
        self._answers: TtlCache[FieldForecast] = TtlCache(ttl_s, ANSWER_CACHE_ENTRIES)
        # None marks a version that failed to load, so it is not read again on every request.
        self._models: OrderedDict[tuple[str, int, str], HarvestForecaster | None] = OrderedDict()
        self._lock = threading.Lock()

    def registry(self, tenant: str) -> ModelRegistry:
        """The tenant's model registry."""
        return ModelRegistry.for_tenant(self._data_dir, tenant)

    def models(self, tenant: str) -> list[ModelMeta]:
        """Every readable version of every model of the tenant, newest first per name."""
        return self.registry(tenant).versions()

    def default_as_of(self) -> dt.date:
        """Yesterday in Asia/Tokyo: the last day whose weather is complete."""
        return self._today() - dt.timedelta(days=1)

    def _harvest_model(self, tenant: str) -> tuple[ModelMeta, HarvestForecaster] | None:
        """The tenant's newest loadable good harvest model, loaded once per version.

        A good version that cannot be loaded (damaged, tampered with, untrusted types) is
        logged and skipped, so the previous good version stays in service.
        """
        registry = self.registry(tenant)
        for meta in registry.versions(MODEL_NAME):
            if meta.status is not ModelStatus.GOOD:
                continue
            key = (tenant, meta.version, meta.sha256)
            with self._lock:
                known = key in self._models
                cached = self._models.get(key)
                if known:
                    self._models.move_to_end(key)
            if known:
                if cached is None:
                    continue
                return meta, cached
            model: HarvestForecaster | None
            # scikit-learn loads with the first model, not with the web application.
            from models.harvest.persist import HARVEST_CODEC

            try:
                model = registry.load(meta, HARVEST_CODEC)
            except (RegistryError, HarvestModelError) as exc:
                log.warning("harvest model v%d of a tenant is skipped: %s", meta.version, exc)
                model = None
            with self._lock:
                self._models[key] = model
                while len(self._models) > MODEL_CACHE_ENTRIES:
                    self._models.popitem(last=False)
            if model is not None:
                return meta, model
        return None

    def _fields(self, tenant: str, sites: list[str]) -> dict[str, list[FieldAsset]]:
        """Registered fields of the tenant (of `sites` if given), by site."""
        return from_store(lambda: read_assets(self._store, tenant, sites).fields, {})

    def fields(self, tenant: str, as_of: dt.date | None = None) -> list[FieldForecast]:
        """Every registered field of the tenant with its forecast (or the reason for none)."""
        day = self._check(as_of)
        model = self._harvest_model(tenant)
        by_site = self._fields(tenant, [])
        return [
            self._forecast(tenant, asset, day, model)
            for site in sorted(by_site)
            for asset in sorted(by_site[site], key=lambda a: a.asset)
        ]

    def forecast(
        self, tenant: str, site: str, as_of: dt.date | None = None, field_id: str | None = None
    ) -> FieldForecast:
        """The forecast of the field at `site` (the given field, or the site's first)."""
        day = self._check(as_of)
        assets = sorted(self._fields(tenant, [site]).get(site, []), key=lambda a: a.asset)
        if field_id is not None:
            assets = [a for a in assets if a.asset == field_id]
        if not assets:
            what = f"field {field_id!r}" if field_id else "farm field"
            raise NotFoundError(f"no {what} registered at site {site!r}")
        return self._forecast(tenant, assets[0], day, self._harvest_model(tenant))

    def _check(self, as_of: dt.date | None) -> dt.date:
        """The as-of day, defaulted and within the range the store can hold."""
        day = as_of or self.default_as_of()
        if not EARLIEST <= day <= LATEST:
            raise QueryError(f"as_of must be between {EARLIEST} and {LATEST}")
        return day

    def _forecast(
        self,
        tenant: str,
        asset: FieldAsset,
        as_of: dt.date,
        loaded: tuple[ModelMeta, HarvestForecaster] | None,
    ) -> FieldForecast:
        """One field's forecast, shared for a while: dashboards poll, the answer moves daily."""
        version = None if loaded is None else (loaded[0].version, loaded[0].sha256)
        key = (tenant, asset, as_of, version)
        return self._answers.get(key, lambda: self._compute(tenant, asset, as_of, loaded))

    def _compute(
        self,
        tenant: str,
        asset: FieldAsset,
        as_of: dt.date,
        loaded: tuple[ModelMeta, HarvestForecaster] | None,
    ) -> FieldForecast:
        """One field's forecast with the loaded model (or none)."""
        meta, model = loaded if loaded is not None else (None, None)
        crop = asset.crop.strip().lower()
        longest = MAX_SEASON_DAYS
        if model is not None and crop in model.crops_:
            longest = model.crops_[crop].length
        plantings = [p for p in self._plantings(tenant, asset) if p <= as_of]
        if not plantings or (as_of - plantings[-1]).days > longest:
            reason = f"no planting on or before {as_of} within {longest} days"
            return FieldForecast(asset, as_of, ForecastStatus.NO_SEASON, reason, model=meta)
        planting = plantings[-1]
        weather = self._weather(tenant, asset, planting, as_of)
        gdd = _gdd(weather, day_number(planting), day_number(as_of))
        base = FieldForecast(asset, as_of, ForecastStatus.OK, "", planting, None, gdd, meta)
        if model is None:
            reason = "no good harvest model is registered for this tenant (run `shinshu train`)"
            return _with(base, ForecastStatus.NO_MODEL, reason)
        season = SeasonRecord(asset.site, crop, day_number(planting))
        own = {asset.site: weather} if weather is not None else {}
        from models.harvest.predict import predict_season

        prediction = predict_season(model, own, season, day_number(as_of))
        if prediction.status is PredictionStatus.UNKNOWN_CROP:
            return _with(base, ForecastStatus.UNKNOWN_CROP, prediction.message)
        if prediction.status is PredictionStatus.NO_WEATHER or weather is None:
            reason = f"the store holds no weather of this field since {planting}"
            return _with(base, ForecastStatus.NO_WEATHER, reason)
        return FieldForecast(asset, as_of, ForecastStatus.OK, "", planting, prediction, gdd, meta)

    def _plantings(self, tenant: str, asset: FieldAsset) -> list[dt.date]:
        """The field's planting dates: the registry's and those of its planting records."""
        return planting_dates(self._store, tenant, asset)

    def _weather(
        self, tenant: str, asset: FieldAsset, planting: dt.date, as_of: dt.date
    ) -> FieldWeather | None:
        """The field's daily weather from before planting to the as-of day."""
        first = planting - dt.timedelta(days=PRE_DAYS)
        found = from_store(
            lambda: self._read_weather(
                self._store, tenant, {asset.site: asset.device or None}, first, as_of
            ),
            {},
        )
        return found.get(asset.site)


def _with(base: FieldForecast, status: ForecastStatus, reason: str) -> FieldForecast:
    """`base` with another status and reason, and no prediction."""
    return FieldForecast(
        base.asset, base.as_of, status, reason, base.planting, None, base.gdd, base.model
    )


def gdd_base_c() -> float:
    """The base temperature of the listed growing-degree days."""
    return GDD_BASE_C


def finite(value: float) -> float | None:
    """`value`, or None when NaN."""
    return None if np.isnan(value) else float(value)

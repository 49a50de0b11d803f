"""The harvest forecaster: per-crop phenology and yield models trained on past seasons."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from models.harvest import climate, seasonal
from models.harvest.baselines import GDD_BASE_C, fit_gdd_rule
from models.harvest.phenology import ThermalTime, deadline_index, fit_thermal_time
from models.harvest.types import (
    FieldWeather,
    FloatArray,
    HarvestDataError,
    SeasonRecord,
)
from models.harvest.yields import IntervalRegressor, yield_features

PRE = climate.PRE_DAYS
# Fewer seasons than these and a crop gets calendar and mean-yield fallbacks instead.
MIN_PHENOLOGY_SEASONS = 3
MIN_YIELD_SEASONS = 12
TRAINING_SHARES = (0.25, 0.5, 0.75, 1.0)
MIN_SEASON_COVERAGE = 0.8
# Season-only climatology must cover this share of the crop's mean length after planting:
# seasons log weather to some weeks after maturity, so later calendar days are thinly covered.
COVER_SHARE = 1.1


@dataclass(slots=True)
class CropModel:
    """Everything learned about one crop."""

    crop: str
    seasons: int
    mean_days: float
    mean_yield: float
    median_yield: float
    yield_range: tuple[float, float]  # training yields' quantiles at the interval coverage
    length: int
    fields: list[str]
    phenology: ThermalTime | None = None
    gdd_threshold: float = math.nan
    gdd_base: float = GDD_BASE_C
    yield_models: dict[float, IntervalRegressor] = field(default_factory=dict)
    correction: seasonal.SeasonCorrection | None = None

    def yield_model(self, known_share: float) -> IntervalRegressor | None:
        """The yield model trained at the share of season nearest to `known_share`."""
        if not self.yield_models:
            return None
        share = min(self.yield_models, key=lambda s: abs(s - known_share))
        return self.yield_models[share]


@dataclass(slots=True)
class SeasonData:
    """A training season with its observed window (PRE_DAYS before planting on)."""

    record: SeasonRecord
    days: int
    path: FloatArray
    members: FloatArray = field(default_factory=lambda: np.empty((0, 0, 5)))


def season_windows(
    weather: dict[str, FieldWeather], season: SeasonRecord, n: int, records: list[FieldWeather]
) -> tuple[FloatArray, FloatArray]:
    """Observed window of a season (gaps filled) and its analog-year members."""
    members = climate.analog_windows(records, season.planting, n)
    actual = climate.window(weather[season.field_id], season.planting - PRE, n)
    return climate.fill_known(actual, members), members


def _usable(weather: dict[str, FieldWeather], s: SeasonRecord) -> str:
    """Why a training season cannot be used, or '' if it can."""
    record = weather.get(s.field_id)
    if record is None:
        return f"line {s.line}: no weather for field {s.field_id}"
    assert s.maturity is not None
    span = climate.window(record, s.planting, s.maturity - s.planting + 1)
    ok = np.isfinite(span[:, 0]) & np.isfinite(span[:, 1])
    if ok.mean() < MIN_SEASON_COVERAGE:
        return f"line {s.line}: weather covers only {ok.mean():.0%} of the season"
    return ""


class HarvestForecaster:
    """Maturity date and yield per season, with intervals, from daily weather since planting."""

    def __init__(self, coverage: float = 0.8, min_yield_seasons: int = MIN_YIELD_SEASONS) -> None:
        """Store the interval coverage and the fewest seasons a crop's yield model needs."""
        self.coverage = coverage
        self.min_yield_seasons = min_yield_seasons

    def fit(
        self, weather: dict[str, FieldWeather], seasons: list[SeasonRecord]
    ) -> HarvestForecaster:
        """Learn every crop in `seasons`; seasons without enough weather are skipped."""
        if not 0.0 < self.coverage < 1.0:
            raise HarvestDataError(f"coverage must be in (0, 1), got {self.coverage}")
        self.weather_ = dict(weather)
        self.skipped_: list[str] = []
        by_crop: dict[str, list[SeasonRecord]] = defaultdict(list)
        for s in seasons:
            if s.maturity is None or s.yield_value is None:
                raise HarvestDataError(f"line {s.line}: training needs maturity_date and yield")
            reason = _usable(weather, s)
            if reason:
                self.skipped_.append(reason)
            else:
                by_crop[s.crop].append(s)
        if not by_crop:
            raise HarvestDataError(
                "no usable training season: " + "; ".join(self.skipped_[:5] or ["none given"])
            )
        self.persistence_ = climate.persistence(list(weather.values()))
        self.calendar_ = seasonal.calendar_table(list(weather.values()))
        self.crops_ = {crop: self._fit_crop(crop, rows) for crop, rows in sorted(by_crop.items())}
        return self

    def analog_records(self, crop: str) -> list[FieldWeather]:
        """Training weather of the crop's fields (all fields for an unknown crop)."""
        model = self.crops_.get(crop)
        fields = model.fields if model is not None else list(self.weather_)
        return [self.weather_[f] for f in fields if f in self.weather_]

    def _fit_crop(self, crop: str, rows: list[SeasonRecord]) -> CropModel:
        """Phenology, baselines and yield model of one crop."""
        days = np.array([s.maturity - s.planting for s in rows if s.maturity is not None])
        yields = np.array([s.yield_value for s in rows], dtype=np.float64)
        length = int(min(math.ceil(days.max() * 1.3) + 20, 500))
        model = CropModel(
            crop=crop,
            seasons=len(rows),
            mean_days=float(days.mean()),
            mean_yield=float(yields.mean()),
            median_yield=float(np.median(yields)),
            yield_range=(
                float(np.quantile(yields, (1.0 - self.coverage) / 2.0)),
                float(np.quantile(yields, (1.0 + self.coverage) / 2.0)),
            ),
            length=length,
            fields=sorted({s.field_id for s in rows}),
        )
        n = PRE + length
        data = []
        for s in rows:
            path, members = season_windows(self.weather_, s, n, [self.weather_[s.field_id]])
            data.append(SeasonData(s, int(s.maturity - s.planting), path, members))  # type: ignore[operator]
        tmin = np.stack([d.path[PRE:, 0] for d in data])
        tmax = np.stack([d.path[PRE:, 1] for d in data])
        planting = np.array([s.planting for s in rows])
        maturity = np.array([s.maturity for s in rows])
        model.gdd_base, model.gdd_threshold = fit_gdd_rule(tmin, tmax, days)
        if len(rows) < MIN_PHENOLOGY_SEASONS:
            return model
        try:
            model.phenology = fit_thermal_time(tmin, tmax, days, planting, maturity)
        except ValueError as exc:
            # E.g. a crop grown where no base temperature is ever exceeded: calendar fallback.
            self.skipped_.append(f"crop {crop}: no thermal-time model ({exc})")
            return model
        for d in data:
            clim = self.climatology(d.record.planting, model)
            if not len(d.members) and clim is not None:
                # Season-only weather: the rest of the season is other years' calendar days.
                d.members = clim[None]
        model.correction = self._fit_correction(model, data)
        if len(rows) >= self.min_yield_seasons:
            model.yield_models = self._fit_yield(model, data)
        return model

    def climatology(self, planting: int, model: CropModel) -> FloatArray | None:
        """Calendar climatology from PRE days before planting without its own year; None if
        other years do not cover the crop's usual season (COVER_SHARE × its mean length)."""
        n = PRE + model.length
        clim = self._calendar_mean(planting, n)
        return seasonal.covered(clim, PRE, min(n, PRE + math.ceil(COVER_SHARE * model.mean_days)))

    def _calendar_mean(self, planting: int, n: int) -> FloatArray:
        """(n × 5) calendar climatology from PRE days before planting, without its own year."""
        if not hasattr(self, "calendar_"):
            # A model loaded from disk rebuilds the table from the weather it kept.
            self.calendar_ = seasonal.calendar_table(list(self.weather_.values()))
        year = seasonal.year_of(planting)
        return self.calendar_.climatology(planting - PRE, n, year)

    def _fit_correction(
        self, model: CropModel, data: list[SeasonData]
    ) -> seasonal.SeasonCorrection | None:
        """Residuals of climatology forecasts of the training seasons as of each share."""
        n = PRE + model.length
        clims = [self.climatology(d.record.planting, model) for d in data]
        if any(c is None for c in clims):
            return None  # some days ahead no other year covers: no honest correction
        out: dict[float, seasonal.ShareCorrection] = {}
        for share in seasonal.SHARES:
            known_n = min(PRE + round(share * model.mean_days) + 1, n)
            res, anom = [], []
            for d, clim in zip(data, clims, strict=True):
                assert clim is not None
                pred, a = climatology_forecast(model, d.record.planting, d.path, clim, known_n)
                res.append(d.days - pred)
                anom.append(a)
            out[share] = seasonal.fit_share(
                np.array(res), np.array(anom), self.coverage, _years(data)
            )
        return seasonal.SeasonCorrection(out)

    def _fit_yield(
        self, model: CropModel, data: list[SeasonData]
    ) -> dict[float, IntervalRegressor]:
        """One yield model per share of the season known (what matters changes with it)."""
        assert model.phenology is not None
        out: dict[float, IntervalRegressor] = {}
        for share in TRAINING_SHARES:
            rows, targets, years = [], [], []
            for d in data:
                if share < 1.0 and not len(d.members):
                    continue  # no other year of this field: the rest of its season is unknown
                years.append(seasonal.year_of(d.record.planting))
                # Known as far as a forecast would know it: a share of the crop's usual
                # length, not of this season's own (only its outcome tells that).
                known_n = min(PRE + round(share * model.mean_days) + 1, len(d.path))
                path = climate.expected_path(d.path, d.members, known_n)
                rows.append(self.features(model, d.record.planting, path, known_n))
                targets.append(
                    math.log(max(d.record.yield_value or 0.0, 1e-6) / model.median_yield)
                )
            if len(rows) >= self.min_yield_seasons:
                # Seasons of one year share its weather: cross-validated by year.
                reg = IntervalRegressor(coverage=self.coverage)
                out[share] = reg.fit(np.array(rows), np.array(targets), groups=np.array(years))
        return out

    @staticmethod
    def features(model: CropModel, planting: int, path: FloatArray, known_n: int) -> FloatArray:
        """Yield features of one expected path, with the phenology's maturity and heading."""
        assert model.phenology is not None
        cap = deadline_index(np.array([planting]), model.phenology.deadline_doy)
        mature, mid = model.phenology.maturity_index(path[None, PRE:, 0], path[None, PRE:, 1], cap)
        forced = cap is not None and mature[0] >= cap[0]
        return yield_features(path, float(mature[0]), float(mid[0]), known_n, forced)


def _years(data: list[SeasonData]) -> np.ndarray:
    """Planting year of each season: the unit of its weather, so of leaving out."""
    return np.array([seasonal.year_of(d.record.planting) for d in data])


def climatology_forecast(
    model: CropModel, planting: int, known: FloatArray, clim: FloatArray, known_n: int
) -> tuple[float, float]:
    """Maturity index of observed days then climatology, and the anomaly seen since planting."""
    assert model.phenology is not None
    path = clim.copy()
    path[:known_n] = np.where(np.isnan(known[:known_n]), clim[:known_n], known[:known_n])
    cap = deadline_index(np.array([planting]), model.phenology.deadline_doy)
    mature, _ = model.phenology.maturity_index(path[None, PRE:, 0], path[None, PRE:, 1], cap)
    return float(mature[0]), seasonal.temperature_anomaly(path, clim, PRE, known_n)

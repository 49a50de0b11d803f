"""Forecasts of one season as of a date: observed weather, then analog years of the field."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from models.harvest import climate
from models.harvest.baselines import gdd_maturity_index
from models.harvest.crops import DEFAULT_WINDOW_DAYS, WINDOW_DAYS, KnownCrop
from models.harvest.model import PRE, CropModel, HarvestForecaster, climatology_forecast
from models.harvest.phenology import deadline_index
from models.harvest.types import (
    ClimateSource,
    FieldWeather,
    FloatArray,
    HarvestDataError,
    HarvestPrediction,
    PredictionStatus,
    SeasonRecord,
)
from models.harvest.yields import FEATURE_NAMES

MAX_UNKNOWN_SHARE = 0.2


def _window_days(crop: str) -> int:
    """Harvest window length of a crop."""
    try:
        return WINDOW_DAYS[KnownCrop(crop)]
    except ValueError:
        return DEFAULT_WINDOW_DAYS


def _analogs(
    model: HarvestForecaster, season: SeasonRecord, own: FieldWeather | None, n: int, as_of: int
) -> tuple[FloatArray, ClimateSource]:
    """Analog-year windows: the field's training years, its own history, or its crop's fields."""
    if season.field_id in model.weather_:
        records = [model.weather_[season.field_id]]
        members = climate.analog_windows(records, season.planting, n)
        if len(members):
            return members, ClimateSource.FIELD
    if own is not None:
        history = own.until(as_of)
        if history is not None:
            members = climate.analog_windows([history], season.planting, n)
            if len(members):
                return members, ClimateSource.FIELD_HISTORY
    records = model.analog_records(season.crop)
    return climate.analog_windows(records, season.planting, n), ClimateSource.POOLED


def _fallback(
    model: CropModel, season: SeasonRecord, as_of: int, message: str
) -> HarvestPrediction:
    """Calendar and mean-yield forecast for a crop with too few seasons to learn from."""
    spread = 0.15 * model.mean_days
    centre = season.planting + model.mean_days
    return HarvestPrediction(
        season=season,
        as_of=as_of,
        status=PredictionStatus.CROP_FALLBACK,
        days_known=max(0, as_of - season.planting + 1),
        maturity=centre,
        maturity_low=centre - spread,
        maturity_high=centre + spread,
        yield_value=model.mean_yield,
        yield_low=model.yield_range[0],
        yield_high=model.yield_range[1],
        window_start=max(centre, as_of),
        window_end=max(centre, as_of) + _window_days(model.crop),
        baseline_clim_maturity=centre,
        baseline_clim_yield=model.mean_yield,
        message=message,
        fallback=message,
    )


def predict_season(
    model: HarvestForecaster, weather: dict[str, FieldWeather], season: SeasonRecord, as_of: int
) -> HarvestPrediction:
    """Forecast one season with weather known up to `as_of` (later rows are ignored)."""
    crop = model.crops_.get(season.crop)
    if crop is None:
        known = ", ".join(sorted(model.crops_))
        return HarvestPrediction(
            season,
            as_of,
            PredictionStatus.UNKNOWN_CROP,
            message=f"crop {season.crop!r} was not in the training seasons ({known})",
        )
    if crop.phenology is None:
        return _fallback(crop, season, as_of, f"only {crop.seasons} training season(s)")
    pheno = crop.phenology
    n = PRE + crop.length
    own = weather.get(season.field_id) or model.weather_.get(season.field_id)
    members, source = _analogs(model, season, own, n, as_of)
    known_n = int(np.clip(as_of - (season.planting - PRE) + 1, 0, n))
    actual = np.full((n, 5), np.nan)
    if own is not None:
        actual = climate.window(own, season.planting - PRE, n)
    actual[known_n:] = np.nan
    observed = np.isfinite(actual[PRE:known_n, 0]) & np.isfinite(actual[PRE:known_n, 1])
    message = ""
    if known_n > PRE and observed.mean() < 1.0 - MAX_UNKNOWN_SHARE:
        message = f"{1.0 - observed.mean():.0%} of days since planting have no temperature"
    fallback = ""
    clim: FloatArray | None = None
    if not len(members):
        if own is None or not observed.any():
            return replace(
                _fallback(crop, season, as_of, "no weather for this field"),
                status=PredictionStatus.NO_WEATHER,
                fallback="no weather for this field",
            )
        # Season-only weather: no year of this field covers the window, so the days ahead
        # take other years' calendar days over the tenant's fields (models.harvest.seasonal).
        clim = model.climatology(season.planting, crop)
        source = ClimateSource.POOLED
        if clim is not None and crop.correction is not None:
            members = clim[None]
        else:
            histories = [h for h in (own.until(as_of),) if h is not None]
            members = climate.calendar_climatology(
                model.analog_records(season.crop) + histories, season.planting, n, actual
            )
            clim = None
            fallback = "season-only weather: calendar days no other year covers"
    known = climate.fill_known(actual, members)
    # Climatology (for the yield features, as in training, and the GDD baseline) stays unshifted.
    expected = climate.expected_path(known, members, known_n)
    shift = model.persistence_ * climate.anomaly_shift(known, members, known_n)
    paths = climate.compose(known, climate.shift_future(members, known_n, shift), known_n)
    cap = deadline_index(np.array([season.planting]), pheno.deadline_doy)
    cap_all = None if cap is None else np.full(len(paths), cap[0])
    mature, _ = pheno.maturity_index(paths[:, PRE:, 0], paths[:, PRE:, 1], cap_all)
    # Future weather and model error are independent: combine every member with every residual.
    residuals = np.array(pheno.residuals or (0.0,))
    combined = (mature[:, None] + residuals[None, :]).ravel()
    tail = (1.0 - model.coverage) / 2.0
    low, mid, high = np.quantile(combined, [tail, 0.5, 1.0 - tail])
    if clim is not None and crop.correction is not None:
        # Climatology forecast moved by the line fitted on training seasons' own misses.
        point, anomaly = climatology_forecast(crop, season.planting, known, clim, known_n)
        fix = crop.correction.at((known_n - PRE) / crop.mean_days)
        mid = point + fix.intercept + fix.slope * anomaly
        low, high = mid + fix.low, mid + fix.high
    reached = mature.max() < known_n - PRE
    if not reached:
        earliest = known_n - PRE
        low, mid = max(low, earliest), max(mid, earliest)
    if cap is not None:
        low, mid, high = (min(v, float(cap[0])) for v in (low, mid, high))
    y_value = y_low = y_high = crop.mean_yield
    x = HarvestForecaster.features(crop, season.planting, expected, known_n)[None, :]
    regressor = crop.yield_model(float(x[0, FEATURE_NAMES.index("known_share")]))
    if regressor is not None:
        centre = float(regressor.predict(x)[0])
        lo, hi = regressor.predict_interval(x)
        y_value = crop.median_yield * math.exp(centre)
        y_low = crop.median_yield * math.exp(float(lo[0]))
        y_high = crop.median_yield * math.exp(float(hi[0]))
    else:
        message = (message + "; " if message else "") + "too few seasons for a yield model"
    gdd = gdd_maturity_index(
        expected[PRE:, 0], expected[PRE:, 1], crop.gdd_threshold, crop.gdd_base
    )
    start = season.planting + mid
    return HarvestPrediction(
        season=season,
        as_of=as_of,
        status=PredictionStatus.OK if own is not None else PredictionStatus.NO_WEATHER,
        climate_source=source,
        days_known=max(0, known_n - PRE),
        maturity=start,
        maturity_low=season.planting + low,
        maturity_high=season.planting + high,
        yield_value=y_value,
        yield_low=min(y_low, y_value),
        yield_high=max(y_high, y_value),
        window_start=max(start, as_of),
        window_end=max(start, as_of) + _window_days(crop.crop),
        baseline_gdd_maturity=season.planting + gdd,
        baseline_clim_maturity=season.planting + crop.mean_days,
        baseline_clim_yield=crop.mean_yield,
        message=message,
        fallback=fallback,
    )


def predict_all(
    model: HarvestForecaster,
    weather: dict[str, FieldWeather],
    seasons: list[SeasonRecord],
    as_of: int | None,
) -> list[HarvestPrediction]:
    """Forecast every season row; a row's own as_of overrides the common one."""
    out: list[HarvestPrediction] = []
    for s in seasons:
        when = s.as_of if s.as_of is not None else as_of
        if when is None:
            raise HarvestDataError(
                f"line {s.line}: no as-of date (give --as-of or an as_of column)"
            )
        out.append(predict_season(model, weather, s, when))
    return out

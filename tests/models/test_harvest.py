"""Harvest forecaster: held-out acceptance against both baselines, CSV files, CLI and errors."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_estimator

from evaluation.harvest import simulate_dataset
from models.harvest import (
    HarvestDataError,
    HarvestForecaster,
    HarvestModelError,
    IntervalRegressor,
    PredictionStatus,
    load_model,
)
from models.harvest.api import PREDICTION_COLUMNS
from models.harvest.cli import main
from models.harvest.csvio import read_seasons, read_weather, write_seasons, write_weather
from models.harvest.evaluation import HarvestScore, as_of_share, score, season_lengths
from models.harvest.phenology import fit_thermal_time
from models.harvest.predict import predict_season
from models.harvest.types import ClimateSource, FieldWeather, SeasonRecord

TRAIN_SEED, HELD_OUT_SEED = 11, 97  # the held-out seed was not used while developing


@pytest.fixture(scope="module")
def trained() -> tuple[HarvestForecaster, dict[str, FieldWeather], list[SeasonRecord]]:
    """A model trained on a simulated decade, and five later held-out years."""
    weather, seasons = simulate_dataset(TRAIN_SEED, 2026, 10)
    model = HarvestForecaster().fit(weather, seasons)
    test_weather, test_seasons = simulate_dataset(HELD_OUT_SEED, 2036, 5)
    return model, test_weather, test_seasons


@pytest.fixture(scope="module")
def scores(trained: tuple) -> dict[float, HarvestScore]:
    """Held-out scores with the weather known up to 50 % and 75 % of each season."""
    model, weather, seasons = trained
    return {share: score(model, weather, seasons, share) for share in (0.5, 0.75)}


@pytest.mark.parametrize("share", [0.5, 0.75])
def test_maturity_beats_gdd_baseline_by_30_percent(scores: dict, share: float) -> None:
    """Maturity-date MAE is at least 30 % below the fitted GDD-plus-climatology baseline."""
    s = scores[share]
    assert s.cases >= 60
    assert s.maturity_mae <= 0.7 * s.gdd_maturity_mae
    assert s.maturity_mae <= 0.7 * s.clim_maturity_mae


def test_yield_beats_climatology_by_30_percent_at_75(scores: dict) -> None:
    """Yield MAE at 75 % of the season is at least 30 % below the crop-mean yield."""
    s = scores[0.75]
    assert s.yield_mae <= 0.7 * s.clim_yield_mae


@pytest.mark.parametrize("share", [0.5, 0.75])
def test_intervals_cover_three_quarters(scores: dict, share: float) -> None:
    """The 80 % intervals of maturity and yield hold at least 75 % of the outcomes."""
    assert scores[share].maturity_coverage >= 0.75
    assert scores[share].yield_coverage >= 0.75


def _synthetic_crop(seed: int, n: int = 40) -> tuple[np.ndarray, ...]:
    """Seasons of a crop maturing at 700 °C·d above 4.4 °C of the daily mean temperature."""
    rng = np.random.default_rng(seed)
    days = 150
    seasonal = 8.0 + 12.0 * np.sin(np.linspace(0.0, 2.0, days))[None, :]
    tmin = seasonal + rng.normal(0.0, 3.0, (n, days)) - rng.uniform(-6.0, 6.0, (n, 1))
    tmax = tmin + rng.uniform(6.0, 12.0, (n, days))
    tm = 0.5 * (tmin + tmax)
    maturity = np.argmax(np.cumsum(np.maximum(tm - 4.4, 0.0), axis=1) >= 700.0, axis=1)
    planting = np.arange(n) * 365 + 120
    return tmin, tmax, maturity, planting


def test_phenology_learns_a_thermal_time_rule() -> None:
    """On new seasons the fitted rule is within a day, where a 10 °C GDD rule is not."""
    tmin, tmax, maturity, planting = _synthetic_crop(5)
    model = fit_thermal_time(tmin, tmax, maturity, planting, planting + maturity)
    tmin2, tmax2, maturity2, _ = _synthetic_crop(6)
    predicted, _ = model.maturity_index(tmin2, tmax2)
    assert np.mean(np.abs(predicted - maturity2)) <= 1.0
    gdd10 = np.cumsum(np.maximum(0.5 * (tmin + tmax) - 10.0, 0.0), axis=1)
    threshold = gdd10[np.arange(len(maturity)), maturity].mean()
    gdd10_new = np.cumsum(np.maximum(0.5 * (tmin2 + tmax2) - 10.0, 0.0), axis=1)
    baseline = np.argmax(gdd10_new >= threshold, axis=1)
    assert np.mean(np.abs(baseline - maturity2)) > 2.0 * np.mean(np.abs(predicted - maturity2))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_interval_regressor_passes_estimator_checks() -> None:
    """The conformal wrapper follows the scikit-learn estimator contract."""
    results = check_estimator(IntervalRegressor(estimator=Ridge()), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []


def test_csv_round_trip(tmp_path: Path, trained: tuple) -> None:
    """Weather and seasons written to CSV read back identically (to the written precision)."""
    _, weather, seasons = trained
    fields = [weather["lettuce-a"], weather["rice-a"]]
    rows = [replace(s, as_of=s.planting + 20) for s in seasons[:5]]
    back_w = read_weather(write_weather(tmp_path / "w.csv", fields))
    back_s = read_seasons(write_seasons(tmp_path / "s.csv", rows), need_truth=True)
    for f in fields:
        got = back_w[f.field_id]
        assert got.first_day == f.first_day
        np.testing.assert_allclose(got.table(), f.table(), atol=0.006)
    assert [replace(s, line=0) for s in back_s] == [
        replace(s, yield_value=round(s.yield_value, 4)) for s in rows
    ]


def test_cli_fit_and_predict(tmp_path: Path, trained: tuple) -> None:
    """fit then predict through the command line gives the documented columns and statuses."""
    _, weather, seasons = trained
    lettuce = [s for s in seasons if s.field_id in {"lettuce-a", "lettuce-b"}]
    w = write_weather(tmp_path / "w.csv", [weather["lettuce-a"], weather["lettuce-b"]])
    s = write_seasons(tmp_path / "s.csv", lettuce)
    assert (
        main(["fit", "--weather", str(w), "--seasons", str(s), "--out", str(tmp_path / "m")]) == 0
    )
    assert load_model(tmp_path / "m").crops_["lettuce"].phenology is not None
    future = [
        SeasonRecord("lettuce-a", "lettuce", lettuce[-1].planting),
        SeasonRecord("lettuce-b", "rice", lettuce[-1].planting),
    ]
    p = write_seasons(tmp_path / "p.csv", future)
    as_of = (np.datetime64(lettuce[-1].planting, "D") + 20).astype(str)
    out = tmp_path / "pred.csv"
    args = ["predict", "--model", str(tmp_path / "m"), "--weather", str(w), "--seasons", str(p)]
    assert main([*args, "--as-of", str(as_of), "--out", str(out)]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == PREDICTION_COLUMNS
    assert rows[0]["status"] == PredictionStatus.OK
    assert rows[0]["maturity_p10"] <= rows[0]["maturity_date"] <= rows[0]["maturity_p90"]
    assert rows[1]["status"] == PredictionStatus.UNKNOWN_CROP
    assert "lettuce" in rows[1]["message"]
    assert main([*args, "--out", str(out)]) == 2  # no --as-of and no as_of column


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("field_id,date,tmin,tmax,radiation", "a,2026-05-01,1,2,3", "missing column"),
        ("field_id,date,tmin,tmax,radiation,rain", "a,2026-13-01,1,2,3,0", "YYYY-MM-DD"),
        ("field_id,date,tmin,tmax,radiation,rain", "a,2026-05-01,9,2,3,0", "above tmax"),
        ("field_id,date,tmin,tmax,radiation,rain", "a,2026-05-01,x,2,3,0", "not a number"),
        ("field_id,date,tmin,tmax,radiation,rain", "a,2026-05-01,1,2,3,-4", "implausible"),
    ],
)
def test_bad_weather_csv_is_a_clear_error(
    tmp_path: Path, header: str, row: str, message: str
) -> None:
    """Each malformed weather file names the problem (and the line where there is one)."""
    path = tmp_path / "w.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(HarvestDataError, match=message):
        read_weather(path)


def test_bad_seasons_csv_is_a_clear_error(tmp_path: Path) -> None:
    """Duplicate days, training rows without truth and reversed dates are refused."""
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "field_id,date,tmin,tmax,radiation,rain\na,2026-05-01,1,2,3,0\na,2026-05-01,1,2,3,0\n"
    )
    with pytest.raises(HarvestDataError, match=r"dup.csv:3: second row"):
        read_weather(dup)
    seasons = tmp_path / "s.csv"
    seasons.write_text("field_id,crop,planting_date\na,rice,2026-05-01\n")
    with pytest.raises(HarvestDataError, match="training needs maturity_date and yield"):
        read_seasons(seasons, need_truth=True)
    seasons.write_text(
        "field_id,crop,planting_date,maturity_date,yield\na,rice,2026-05-01,2026-04-01,5\n"
    )
    with pytest.raises(HarvestDataError, match="not after planting"):
        read_seasons(seasons, need_truth=False)
    with pytest.raises(HarvestModelError, match="no model here"):
        load_model(tmp_path / "nothing")


def test_robust_to_gaps_new_fields_and_single_seasons(trained: tuple) -> None:
    """Missing days, a field never seen in training and a one-season crop give sensible rows."""
    model, weather, seasons = trained
    season = next(s for s in seasons if s.crop == "rice")
    record = weather[season.field_id]
    holes = record.tmin.copy()
    holes[season.planting - record.first_day : season.planting - record.first_day + 30 : 2] = np.nan
    gappy = {"new-field": replace(record, field_id="new-field", tmin=holes)}
    new = replace(season, field_id="new-field")
    p = predict_season(model, gappy, new, season.planting + 60)
    assert p.status is PredictionStatus.OK
    assert p.climate_source in {ClimateSource.FIELD_HISTORY, ClimateSource.POOLED}
    assert abs(p.maturity - season.maturity) < 15
    train_w, train_s = simulate_dataset(TRAIN_SEED, 2026, 2)
    single = [*train_s, replace(train_s[0], crop="buckwheat")]
    small = HarvestForecaster(min_yield_seasons=100).fit(train_w, single)
    p = predict_season(small, train_w, replace(train_s[0], crop="buckwheat"), train_s[0].planting)
    assert p.status is PredictionStatus.CROP_FALLBACK
    assert np.isfinite(p.maturity) and np.isfinite(p.yield_value)
    # Halfway through the crop's usual season, whatever this season's own length turns out.
    usual = season_lengths(small)
    [half] = as_of_share([season], 0.5, usual)
    assert half.as_of == season.planting + round(0.5 * usual[season.crop])
    assert as_of_share([replace(season, crop="tea")], 0.5, usual) == []

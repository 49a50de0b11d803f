"""Harvest forecasts from season-only weather, on WOFOST crop-model seasons shipped in tests/data.

Training seasons are those sown in even years 1976-1998, held-out seasons those of odd years
(tests/data/harvest/README.md says where the seasons and weather come from).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from models.harvest.csvio import from_day, read_seasons, read_weather
from models.harvest.evaluation import as_of_share, season_lengths, summarize
from models.harvest.model import HarvestForecaster
from models.harvest.predict import predict_all, predict_season
from models.harvest.types import FieldWeather, PredictionStatus, SeasonRecord

DATA = Path(__file__).resolve().parent.parent / "data" / "harvest"


def _year(season: SeasonRecord) -> int:
    """Sowing year of a season."""
    return int(from_day(season.planting)[:4])


@pytest.fixture(scope="module")
def wofost() -> tuple[HarvestForecaster, dict[str, FieldWeather], list[SeasonRecord]]:
    """A model fitted on the even years and the held-out odd-year seasons with their weather."""
    weather = read_weather(DATA / "weather.csv")
    seasons = read_seasons(DATA / "seasons.csv", need_truth=True)
    train = [s for s in seasons if _year(s) % 2 == 0]
    test = [s for s in seasons if _year(s) % 2 == 1]
    train_weather = {s.field_id: weather[s.field_id] for s in train}
    return HarvestForecaster().fit(train_weather, train), weather, test


@pytest.mark.parametrize("share", [0.5, 0.75])
def test_season_only_weather_gets_a_real_forecast(wofost, share) -> None:
    """No field has another year, yet every held-out season gets the full model, not a fallback."""
    model, weather, test = wofost
    preds = predict_all(model, weather, as_of_share(test, share, season_lengths(model)), None)
    assert len(preds) == len(test)
    assert all(p.status is PredictionStatus.OK and not p.fallback for p in preds)
    score = summarize(preds, share)
    # Thermal time plus other years' climatology beats the calendar, and is at least as good as
    # the GDD rule fitted per crop on the same training seasons.
    assert score.maturity_mae < 0.8 * score.clim_maturity_mae
    assert score.maturity_mae <= 1.05 * score.gdd_maturity_mae
    assert 0.6 <= score.maturity_coverage <= 0.97


def test_batch_prediction_equals_one_season_at_a_time(wofost) -> None:
    """Predicting all seasons together gives each the answer it gets alone."""
    model, weather, test = wofost
    rows = as_of_share(test[:12], 0.5, season_lengths(model))
    batch = predict_all(model, weather, rows, None)
    for row, together in zip(rows, batch, strict=True):
        alone = predict_season(model, {row.field_id: weather[row.field_id]}, row, row.as_of)
        assert (alone.maturity, alone.maturity_low, alone.yield_value) == (
            together.maturity,
            together.maturity_low,
            together.yield_value,
        )


def test_forecast_does_not_see_the_outcome(wofost) -> None:
    """Moving a season's true maturity changes neither its as-of date nor its forecast."""
    model, weather, test = wofost
    lengths = season_lengths(model)
    season = test[0]
    later = replace(season, maturity=(season.maturity or 0) + 25, yield_value=0.1)
    (a,), (b,) = as_of_share([season], 0.5, lengths), as_of_share([later], 0.5, lengths)
    assert a.as_of == b.as_of
    pa, pb = predict_season(model, weather, a, a.as_of), predict_season(model, weather, b, b.as_of)
    assert (pa.maturity, pa.yield_value) == (pb.maturity, pb.yield_value)


def test_saved_model_forecasts_season_only_weather_the_same(wofost, tmp_path) -> None:
    """A model read back from disk gives the same season-only forecasts, still without fallback."""
    from models.harvest.api import load_model, save_model

    model, weather, test = wofost
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    rows = as_of_share(test[:6], 0.5, season_lengths(model))
    for a, b in zip(
        predict_all(model, weather, rows, None),
        predict_all(loaded, weather, rows, None),
        strict=True,
    ):
        assert not b.fallback
        assert (a.maturity, a.maturity_high, a.yield_value) == (
            b.maturity,
            b.maturity_high,
            b.yield_value,
        )


def test_cli_counts_fallbacks_on_stderr(wofost, tmp_path, capsys) -> None:
    """A season whose days ahead no other year covers falls back, and predict says how many."""
    from models.harvest.cli import main
    from models.harvest.csvio import write_seasons, write_weather

    _model, weather, test = wofost
    train = [s for s in read_seasons(DATA / "seasons.csv", need_truth=True) if _year(s) % 2 == 0]
    write_weather(tmp_path / "w.csv", [weather[s.field_id] for s in train])
    write_seasons(tmp_path / "s.csv", train)
    assert (
        main(
            [
                "fit",
                "--weather",
                str(tmp_path / "w.csv"),
                "--seasons",
                str(tmp_path / "s.csv"),
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    # One ordinary held-out season, and one sown in October: no training field logged winter.
    ok = test[0]
    src = weather[ok.field_id]
    shift = 183
    late = FieldWeather(
        "autumn",
        src.first_day + shift,
        src.tmin,
        src.tmax,
        src.radiation,
        src.rain,
        src.soil_moisture,
    )
    rows = [
        replace(ok, as_of=ok.planting + 40, maturity=None, yield_value=None),
        SeasonRecord("autumn", ok.crop, ok.planting + shift, as_of=ok.planting + shift + 40),
    ]
    write_weather(tmp_path / "pw.csv", [src, late])
    write_seasons(tmp_path / "ps.csv", rows)
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                "--model",
                str(tmp_path / "m"),
                "--weather",
                str(tmp_path / "pw.csv"),
                "--seasons",
                str(tmp_path / "ps.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "1 件は簡易予測 / fallback forecasts" in err
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == 3

"""Frost forecaster: causality, fallback, interval order and held-out skill against persistence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.frost.features import night_rows
from models.frost.forecaster import FrostForecaster, Method
from models.frost.hourly import HOURS, HourlyWeather
from models.frost.physical import K_HIGH, K_LOW, craddock_pritchard


def _days(w: HourlyWeather, first: int, count: int) -> HourlyWeather:
    """Days [first, first + count) of a site's grid."""
    a, b = first * HOURS, (first + count) * HOURS
    return HourlyWeather(
        w.first_day + dt.timedelta(days=first),
        w.air_temperature[a:b],
        w.dew_point[a:b],
        w.relative_humidity[a:b],
        w.wind_speed[a:b],
        w.solar_radiation[a:b],
        columns=w.columns,
    )


@pytest.fixture(scope="module")
def fitted(train_site: HourlyWeather) -> FrostForecaster:
    """The forecaster trained on the training seed's year."""
    return FrostForecaster().fit(train_site)


def _arrays(forecasts: list) -> dict[str, np.ndarray]:
    """Forecast fields as arrays."""
    return {
        k: np.array([getattr(f, k) for f in forecasts], dtype=np.float64)
        for k in ("forecast", "low", "high", "observed")
    }


@pytest.mark.parametrize("short", [False, True])
def test_readings_after_the_issue_time_do_not_change_the_forecast(
    fitted: FrostForecaster, train_site: HourlyWeather, short: bool
) -> None:
    """Scrambling every reading after 21:00 on one day leaves that day's forecasts unchanged."""
    model = FrostForecaster(min_nights=10**6).fit(train_site) if short else fitted
    site = _days(train_site, 90, 40)
    cut = 20 * HOURS + 21  # label 21:00 of the 21st day
    rng = np.random.default_rng(5)
    altered = {}
    for name in ("air_temperature", "dew_point", "relative_humidity", "wind_speed"):
        values = getattr(site, name).copy()
        values[cut + 1 :] = rng.uniform(-15.0, 30.0, len(values) - cut - 1)
        altered[name] = values
    changed = site.with_values(**altered)
    before = [f for f in model.predict_nights(site) if f.date == site.date(20)]
    after = [f for f in model.predict_nights(changed) if f.date == site.date(20)]
    assert [f.issued_at.hour for f in before] == [15, 21]
    for b, a in zip(before, after, strict=True):
        assert b.method is a.method
        assert (b.forecast, b.low, b.high) == (a.forecast, a.low, a.high)
        assert b.observed != a.observed  # the night itself did change


def test_short_history_falls_back_to_the_physical_rule(train_site: HourlyWeather) -> None:
    """With 20 nights (< 30) every forecast is the rule's, and says so in `method`."""
    short = _days(train_site, 100, 21)
    model = FrostForecaster().fit(short)
    assert model.method_ is Method.PHYSICAL_RULE
    assert model.nights_ == 20
    forecasts = model.predict_nights(_days(train_site, 200, 10))
    assert forecasts and all(f.method is Method.PHYSICAL_RULE for f in forecasts)
    rows = night_rows(_days(train_site, 200, 10))
    expected = craddock_pritchard(rows.t_midday, rows.td_midday) + model.rule_.k
    got = _arrays(forecasts)["forecast"]
    np.testing.assert_allclose(got, expected[: len(got)])


def test_too_few_nights_for_a_spread_use_the_published_range_of_k(
    train_site: HourlyWeather,
) -> None:
    """Below ten nights the rule's interval is its formula plus the published K range."""
    model = FrostForecaster().fit(_days(train_site, 30, 6))
    assert model.rule_.nights == 5
    assert (model.rule_.k, model.rule_.low, model.rule_.high) == (0.0, K_LOW, K_HIGH)


def test_intervals_are_ordered_for_model_and_rule(
    fitted: FrostForecaster, held_out_site: HourlyWeather, train_site: HourlyWeather
) -> None:
    """low <= forecast <= high on every forecast of both methods."""
    rule_model = FrostForecaster().fit(_days(train_site, 0, 25))
    for model in (fitted, rule_model):
        a = _arrays(model.predict_nights(held_out_site))
        assert len(a["forecast"]) > 700
        assert np.all(a["low"] <= a["forecast"])
        assert np.all(a["forecast"] <= a["high"])


def test_model_beats_persistence_on_a_held_out_seed(
    fitted: FrostForecaster, held_out_site: HourlyWeather
) -> None:
    """On a simulated year it never saw, MAE is at most 85 % of persistence's and of the rule's.

    While developing, a third seed gave 0.70 of persistence's MAE and 76 % interval coverage;
    this seed gives 0.68 of persistence's and 0.61 of the rule's, with 82 % coverage.
    """
    forecasts = fitted.predict_nights(held_out_site)
    a = _arrays(forecasts)
    rows = night_rows(held_out_site)
    ok = np.isfinite(a["observed"]) & np.isfinite(rows.persistence)
    assert ok.sum() > 700
    assert all(f.method is Method.MODEL for f in forecasts)
    mae = np.mean(np.abs(a["forecast"] - a["observed"])[ok])
    persistence = np.mean(np.abs(rows.persistence - rows.observed)[ok])
    rule = fitted.rule_.predict(rows.t_midday, rows.td_midday)[0]
    assert mae <= 0.85 * persistence
    assert mae <= 0.85 * np.mean(np.abs(rule - rows.observed)[ok])
    inside = (a["observed"] >= a["low"]) & (a["observed"] <= a["high"])
    assert 0.65 <= np.mean(inside[ok]) <= 0.95


def test_missing_humidity_and_radiation_still_give_model_forecasts(
    train_site: HourlyWeather,
) -> None:
    """A mast with only a thermometer gets model forecasts; the rule has no dew point to use."""
    nan = np.full(len(train_site.air_temperature), np.nan)
    bare = train_site.with_values(
        dew_point=nan, relative_humidity=nan, solar_radiation=nan, wind_speed=nan
    )
    model = FrostForecaster().fit(bare)
    forecasts = model.predict_nights(_days(bare, 300, 20))
    assert all(f.method is Method.MODEL and np.isfinite(f.forecast) for f in forecasts)
    fallback = FrostForecaster().fit(_days(bare, 0, 20)).predict_nights(_days(bare, 300, 5))
    assert all(f.method is Method.NONE and np.isnan(f.forecast) for f in fallback)


def test_a_gap_at_the_issue_time_falls_back_to_the_rule(
    fitted: FrostForecaster, train_site: HourlyWeather
) -> None:
    """Without temperatures in the three hours up to 21:00 that forecast is the rule's."""
    site = _days(train_site, 150, 10)
    t = site.air_temperature.copy()
    t[5 * HOURS + 19 : 5 * HOURS + 22] = np.nan
    forecasts = fitted.predict_nights(site.with_values(air_temperature=t))
    day5 = {f.issued_at.hour: f.method for f in forecasts if f.date == site.date(5)}
    assert day5 == {15: Method.MODEL, 21: Method.PHYSICAL_RULE}

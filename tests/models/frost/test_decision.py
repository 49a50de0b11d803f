"""The frost warning: probability from the interval, p* from training nights only, one decision."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.frost.decision import (
    DEFAULT_P_STAR,
    MIN_FROST_ROWS,
    choose_p_star,
    frost_probability,
    warned,
)
from models.frost.decision import FROST_THRESHOLD as ZERO
from models.frost.features import night_rows
from models.frost.forecaster import FrostForecaster
from models.frost.hourly import HOURS, HourlyWeather


def _days(w: HourlyWeather, first: int, count: int) -> HourlyWeather:
    """Days [first, first + count) of a site's grid."""
    a, b = first * HOURS, (first + count) * HOURS
    return HourlyWeather(
        w.first_day + dt.timedelta(days=first),
        *(getattr(w, s)[a:b] for s in ("air_temperature", "dew_point", "relative_humidity")),
        w.wind_speed[a:b],
        w.solar_radiation[a:b],
        columns=w.columns,
    )


def test_probability_passes_through_the_interval_and_rises_with_the_threshold() -> None:
    """P(min <= low) = 0.1, P(min <= median) = 0.5, P(min <= high) = 0.9, monotone between."""
    low, mid, high = np.array([-2.0]), np.array([1.0]), np.array([5.0])
    xs = np.linspace(-10.0, 15.0, 501)
    p = np.array([frost_probability(low, mid, high, threshold=x)[0] for x in xs])
    assert np.all(np.diff(p) >= 0.0) and np.all((p > 0.0) & (p < 1.0))
    assert np.max(np.abs(np.diff(p))) < 0.02  # continuous: no jump at the bounds
    for x, want in ((-2.0, 0.1), (1.0, 0.5), (5.0, 0.9)):
        assert frost_probability(low, mid, high, threshold=x)[0] == pytest.approx(want)
    assert np.isnan(frost_probability(np.array([np.nan]), mid, high)[0])
    assert not warned(np.array([np.nan]), 0.0)[0]


def test_p_star_is_the_highest_threshold_meeting_the_recall() -> None:
    """At p* at least 90 % of the frost rows are warned; any higher threshold warns fewer."""
    rng = np.random.default_rng(3)
    observed = rng.normal(2.0, 3.0, 400)
    p = np.clip(0.5 - observed / 8.0 + rng.normal(0.0, 0.1, 400), 0.0, 1.0)
    p_star = choose_p_star(p, observed, recall=0.9)
    frost = observed <= ZERO
    assert np.mean(warned(p, p_star)[frost]) >= 0.9
    assert np.mean(warned(p, p_star + 1e-9)[frost]) < 0.9
    few = np.full(100, 5.0)
    few[: MIN_FROST_ROWS - 1] = -1.0  # too few frost rows to estimate p*: the default
    assert choose_p_star(p[:100], few) == DEFAULT_P_STAR


@pytest.fixture(scope="module")
def fitted(train_site: HourlyWeather) -> FrostForecaster:
    """The forecaster trained on the training seed's year."""
    return FrostForecaster().fit(train_site)


def test_p_star_meets_the_recall_on_the_training_nights_out_of_fold(
    fitted: FrostForecaster, train_site: HourlyWeather
) -> None:
    """Per issue hour, the out-of-fold training frost rows are warned at the training recall."""
    rows = night_rows(train_site, fitted.issue_hours_)
    known = np.isfinite(rows.observed)
    for h, reg in fitted.regressors_.items():
        y = rows.observed[known & (rows.hour == h)]
        lo, mid, hi = reg.oof_quantiles_.T
        p = frost_probability(
            np.minimum(lo - reg.correction_, mid), mid, np.maximum(hi + reg.correction_, mid)
        )
        frost = (y <= 0.0) & np.isfinite(p)
        assert frost.sum() >= MIN_FROST_ROWS
        assert np.mean(p[frost] >= fitted.p_star_[h]) >= fitted.warn_recall >= 0.9
        assert 0.0 < fitted.p_star_[h] < 1.0


def test_evaluation_nights_do_not_change_p_star_or_earlier_warnings(
    fitted: FrostForecaster, held_out_site: HourlyWeather
) -> None:
    """Making every evaluation night after day 20 a hard frost changes no p* and no warning
    issued before it; p* comes from the training nights alone."""
    p_star = dict(fitted.p_star_)
    site = _days(held_out_site, 60, 40)
    t = site.air_temperature.copy()
    t[21 * HOURS :] = -8.0
    before = fitted.predict_nights(site)
    after = fitted.predict_nights(site.with_values(air_temperature=t))
    assert fitted.p_star_ == p_star
    early = [(b, a) for b, a in zip(before, after, strict=True) if b.date < site.date(20)]
    assert len(early) == 40
    for b, a in early:
        assert (b.p_frost, b.warned) == (a.p_frost, a.warned)
    refit = FrostForecaster().fit(_days(held_out_site, 0, 200))
    assert refit.p_star_ != p_star  # other training nights, another threshold


def test_warned_is_the_probability_against_the_hours_p_star(
    fitted: FrostForecaster, held_out_site: HourlyWeather
) -> None:
    """Each forecast's `warned` is exactly p_frost >= p* of its issue hour, and some are warned."""
    forecasts = fitted.predict_nights(held_out_site)
    for f in forecasts:
        assert f.warned == (f.p_frost >= fitted.p_star_[f.issued_at.hour])
    assert any(f.warned for f in forecasts) and not all(f.warned for f in forecasts)

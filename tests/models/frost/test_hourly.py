"""The hourly grid: hour-ending labels, averaging, dew point and humidity from each other."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.frost.hourly import dew_point, from_readings, relative_humidity


def test_a_reading_belongs_to_the_hour_in_which_it_becomes_known() -> None:
    """17:20 and 18:00 average into the hour labelled 18:00; 18:10 is 19:00's."""
    day = dt.datetime(2025, 4, 1)
    times = [day.replace(hour=17, minute=20), day.replace(hour=18), day.replace(hour=18, minute=10)]
    w = from_readings(times, {"air_temperature": [4.0, 2.0, 9.0]}, ("air_temperature",))
    grid = w.grid(w.air_temperature)
    assert w.first_day == day.date()
    assert grid[0, 18] == pytest.approx(3.0)
    assert grid[0, 19] == pytest.approx(9.0)
    assert np.isnan(grid[0, 17])
    assert np.isnan(w.dew_point).all()


def test_dew_point_and_humidity_fill_each_other() -> None:
    """Saturated air has its dew point at air temperature; the two conversions invert."""
    t = np.array([-5.0, 0.0, 12.0, 25.0])
    assert dew_point(t, np.full(4, 100.0)) == pytest.approx(t, abs=1e-9)
    rh = np.array([30.0, 55.0, 80.0, 95.0])
    assert relative_humidity(t, dew_point(t, rh)) == pytest.approx(rh, abs=1e-6)
    # 20 °C at 50 %: about 9.3 °C (Magnus, Alduchov & Eskridge coefficients).
    assert dew_point(np.array([20.0]), np.array([50.0]))[0] == pytest.approx(9.26, abs=0.05)
    times = [dt.datetime(2025, 4, 1, h) for h in range(3)]
    w = from_readings(
        times,
        {
            "air_temperature": [10.0, 10.0, 10.0],
            "relative_humidity": [60.0, np.nan, 60.0],
            "dew_point": [np.nan, 5.0, 3.0],
        },
        ("air_temperature", "relative_humidity", "dew_point"),
    )
    assert w.dew_point[0] == pytest.approx(dew_point(np.array([10.0]), np.array([60.0]))[0])
    assert w.dew_point[2] == 3.0  # a measured dew point wins over one derived from humidity
    assert w.relative_humidity[1] == pytest.approx(
        relative_humidity(np.array([10.0]), np.array([5.0]))[0]
    )

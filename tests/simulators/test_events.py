"""Weather events placed by a scenario: heavy rain over a stand, a frost night at a field."""

from __future__ import annotations

import datetime as dt

import numpy as np

from core.time import JST
from edge.protocol import SensorKind
from simulators.events import EventKind, WeatherEvent
from simulators.scenario import Scenario, SiteData, Truth, simulate_sites

DAY = 86_400_000
START = int(dt.datetime(2026, 4, 10, tzinfo=JST).timestamp() * 1000)


def _sites(scenario: Scenario) -> dict[str, SiteData]:
    return {s.site: s for s in simulate_sites(scenario, Truth())}


def _series(site: SiteData, kind: SensorKind) -> tuple[np.ndarray, np.ndarray]:
    (found,) = [s for s in site.series if s.kind is kind]
    return found.ts_ms, found.values


def test_heavy_rain_falls_on_its_site_only_and_nothing_else_moves() -> None:
    """200 mm over the stand: its gauge counts them (to the bucket's tip), its soil gets
    wetter; the field, and the stand's temperatures, are as without the event."""
    plain = Scenario(1, 1, 0, START, 6 * DAY, 600_000, seed=3)
    at = START + 3 * DAY + 2 * 3_600_000
    rain = WeatherEvent("minamimaki-01", EventKind.HEAVY_RAIN, at, 200.0)
    wet = Scenario(1, 1, 0, START, 6 * DAY, 600_000, seed=3, events=(rain,))
    before, after = _sites(plain), _sites(wet)
    stand = "minamimaki-01"
    ts, gauge0 = _series(before[stand], SensorKind.RAINFALL)
    _, gauge1 = _series(after[stand], SensorKind.RAINFALL)
    during = (ts > at) & (ts <= at + 16 * 3_600_000)
    assert abs((gauge1 - gauge0)[during].sum() - 200.0) <= 0.4
    assert np.array_equal(gauge1[~during], gauge0[~during])
    _, soil0 = _series(before[stand], SensorKind.SOIL_MOISTURE)
    _, soil1 = _series(after[stand], SensorKind.SOIL_MOISTURE)
    assert (soil1 - soil0).max() > 5.0
    for kind in (SensorKind.AIR_TEMPERATURE,):
        assert np.array_equal(_series(after[stand], kind)[1], _series(before[stand], kind)[1])
    field = next(s for s in before if s != stand)
    for a, b in zip(before[field].series, after[field].series, strict=True):
        assert np.array_equal(a.values, b.values)


def test_a_frost_night_reaches_its_minimum_under_a_clear_calm_sky() -> None:
    """A night set to −3 °C: the field's thermometer reads about that before sunrise, the
    afternoon before is cool and the air dry, the night is calm; other days are unchanged."""
    site = "kawakami-01"
    evening = START + 2 * DAY + 18 * 3_600_000  # 18:00 JST
    frost = WeatherEvent(site, EventKind.FROST_NIGHT, evening, -3.0)
    plain = _sites(Scenario(1, 0, 0, START, 5 * DAY, 600_000, seed=4))[site]
    cold = _sites(Scenario(1, 0, 0, START, 5 * DAY, 600_000, seed=4, events=(frost,)))[site]
    ts, t0 = _series(plain, SensorKind.AIR_TEMPERATURE)
    _, t1 = _series(cold, SensorKind.AIR_TEMPERATURE)
    night = (ts >= evening) & (ts < evening + 14 * 3_600_000)
    assert abs(t1[night].min() - (-3.0)) <= 0.5
    assert t1[night].min() < t0[night].min() - 1.0
    far = (ts < evening - 14 * 3_600_000) | (ts > evening + 2 * DAY)
    assert np.array_equal(t1[far], t0[far])
    afternoon = (ts >= evening - 4 * 3_600_000) & (ts < evening - 3 * 3_600_000)
    assert t1[afternoon].max() <= -3.0 + 13.0 + 0.5
    _, rh = _series(cold, SensorKind.RELATIVE_HUMIDITY)
    at_18 = int(np.argmin(np.abs(ts - evening)))
    gamma = np.log(rh[at_18] / 100) + 17.27 * t1[at_18] / (237.3 + t1[at_18])
    assert 237.3 * gamma / (17.27 - gamma) <= -3.0 - 3.0 + 1.0  # dry air: dew point ≈ −6 °C
    _, wind = _series(cold, SensorKind.WIND_SPEED)
    assert wind[night].mean() <= 1.0  # calm: 0.8 m/s an hour, with the anemometer's gusts


def test_a_scenario_chooses_its_farms_and_keeps_the_first_ones_data() -> None:
    """Farms named by site id: the orchard joins the lettuce field, whose data is unchanged."""
    lettuce = _sites(Scenario(1, 0, 0, START, DAY, 600_000, seed=5))["kawakami-01"]
    chosen = Scenario(2, 0, 0, START, DAY, 600_000, seed=5, farm_sites=("kawakami-01", "suzaka-01"))
    both = _sites(chosen)
    assert sorted(both) == ["kawakami-01", "suzaka-01"]
    for a, b in zip(lettuce.series, both["kawakami-01"].series, strict=True):
        assert np.array_equal(a.values, b.values)

"""Weather events a scenario places on purpose: a heavy-rain event over a site, a radiation-frost
night at a site. They change the site's simulated weather and nothing else, so every sensor
that depends on the weather (rain gauge, soil moisture, temperature, humidity, radiation, wind)
tells the same story, and a scenario without events simulates exactly as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from simulators.common import day_start_ms
from simulators.solar import saturation_vapour_kpa
from simulators.weather import Weather, diurnal

# A heavy-rain event's hourly profile: a front building to a peak and easing off (fractions of
# the total, one per hour; the JMA-style "線状降水帯" shape of a few very wet hours).
RAIN_PROFILE = np.array([2, 3, 4, 5, 6, 7, 9, 12, 14, 12, 9, 7, 5, 3, 2], dtype=float)


class EventKind(StrEnum):
    """What the weather does."""

    HEAVY_RAIN = "heavy_rain"
    FROST_NIGHT = "frost_night"


@dataclass(frozen=True, slots=True)
class WeatherEvent:
    """One event at one site: heavy rain of `amount` mm from `start_ms`, or a clear, calm
    night from `start_ms` (the evening) whose minimum near sunrise is `amount` °C."""

    site: str
    kind: EventKind
    start_ms: int
    amount: float


def apply_events(weather: Weather, events: list[WeatherEvent]) -> Weather:
    """The weather with the events laid over it (events outside its span change nothing)."""
    for event in events:
        if event.kind is EventKind.HEAVY_RAIN:
            weather = _heavy_rain(weather, event)
        else:
            weather = _frost_night(weather, event)
    return weather


def _hours(weather: Weather, start_ms: int, count: int) -> np.ndarray:
    """Indices of the hourly entries from `start_ms` on, inside the simulated span."""
    first = (start_ms - int(weather.hourly.t_ms[0])) // MS_PER_HOUR
    index = np.arange(first, first + count)
    return index[(index >= 0) & (index < weather.hourly.t_ms.size)]


def _heavy_rain(weather: Weather, event: WeatherEvent) -> Weather:
    """`amount` mm of rain over the profile's hours, under full cloud, falling as rain."""
    index = _hours(weather, event.start_ms, RAIN_PROFILE.size)
    if index.size == 0:
        return weather
    h = weather.hourly
    rain, cloud = h.rain_mm.copy(), h.cloud.copy()
    share = RAIN_PROFILE[: index.size] / RAIN_PROFILE.sum()
    rain[index] += event.amount * share
    cloud[index] = 1.0
    hourly = dataclasses.replace(h, rain_mm=rain, cloud=cloud)
    days = (index // 24)[np.r_[True, np.diff(index // 24) > 0]]
    daily_rain = weather.daily.rain_mm.copy()
    daily_precip = weather.daily.precip_mm.copy()
    for d in days:
        daily_rain[d] = rain[24 * d : 24 * d + 24].sum()
        daily_precip[d] = daily_rain[d] + weather.daily.snow_mm[d]
    daily = dataclasses.replace(weather.daily, rain_mm=daily_rain, precip_mm=daily_precip)
    return dataclasses.replace(weather, hourly=hourly, daily=daily)


def _frost_night(weather: Weather, event: WeatherEvent) -> Weather:
    """A radiation frost under a cold, dry, clear air mass: a cool afternoon (`amount` + 13 °C
    at most), dew point `amount` − 3 °C, no cloud from the afternoon and calm air through the
    night, and the morning's minimum (the sunrise anchor of the diurnal curve) at `amount`."""
    anchors = weather.anchor_v.copy()
    after = np.flatnonzero(weather.anchor_t > event.start_ms)
    if after.size == 0:
        return weather
    # Odd anchors are sunrises, even ones afternoon peaks (simulators.weather).
    sunrise = int(after[0]) if after[0] % 2 == 1 else int(after[0]) + 1
    if sunrise < 2 or sunrise + 2 >= anchors.size:
        return weather
    anchors[sunrise - 1] = min(anchors[sunrise - 1], event.amount + 13.0)
    anchors[sunrise] = event.amount
    anchors[sunrise + 1] = min(anchors[sunrise + 1], event.amount + 15.0)
    h = weather.hourly
    mid = h.t_ms + MS_PER_HOUR // 2
    t = weather.anchor_t
    window = np.flatnonzero((mid >= t[sunrise - 2]) & (mid < t[sunrise + 2]))
    calm = np.flatnonzero(
        (mid >= t[sunrise - 1] - 4 * MS_PER_HOUR) & (mid < t[sunrise] + 2 * MS_PER_HOUR)
    )
    noise = weather.noise_h.copy()
    noise[calm] = 0.0
    temp = h.air_temperature.copy()
    temp[window] = diurnal(mid[window], t, anchors) + noise[window]
    cloud, wind = h.cloud.copy(), h.wind_speed.copy()
    cloud[calm] = 0.0
    wind[calm] = np.minimum(wind[calm], 0.8)
    vapour = weather.vapour_kpa.copy()
    days = np.unique(window // 24)
    vapour[days] = np.minimum(vapour[days], saturation_vapour_kpa(np.array(event.amount - 3.0)))
    centres = day_start_ms(weather.daily.day) + MS_PER_DAY // 2
    rh = h.relative_humidity.copy()
    rh[window] = np.clip(
        100.0 * np.interp(mid[window], centres, vapour) / saturation_vapour_kpa(temp[window]),
        8.0,
        100.0,
    )
    hourly = dataclasses.replace(
        h, air_temperature=temp, cloud=cloud, wind_speed=wind, relative_humidity=rh
    )
    tmin, tmax = weather.daily.tmin.copy(), weather.daily.tmax.copy()
    frost_day = int(np.searchsorted(centres, t[sunrise]) - 1)
    tmin[frost_day] = event.amount
    tmax[frost_day - 1] = min(tmax[frost_day - 1], event.amount + 13.0)
    daily = dataclasses.replace(weather.daily, tmin=tmin, tmax=tmax)
    return dataclasses.replace(
        weather, hourly=hourly, daily=daily, anchor_v=anchors, noise_h=noise, vapour_kpa=vapour
    )

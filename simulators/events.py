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
    """A clear, calm night: no cloud from the afternoon before, light wind, and the morning's
    minimum (the sunrise anchor of the diurnal curve) at `amount` °C."""
    night = _hours(weather, event.start_ms - 6 * MS_PER_HOUR, 22)
    if night.size == 0:
        return weather
    h = weather.hourly
    anchors = weather.anchor_v.copy()
    # The sunrise anchor the night runs down to: the first after the evening.
    after = np.flatnonzero(weather.anchor_t > event.start_ms)
    if after.size == 0:
        return weather
    sunrise = int(after[0]) if (after[0] % 2 == 1) else int(after[0]) + 1
    if sunrise >= anchors.size:
        return weather
    anchors[sunrise] = event.amount
    noise = weather.noise_h.copy()
    noise[night] = 0.0
    mid = h.t_ms + MS_PER_HOUR // 2
    temp = h.air_temperature.copy()
    temp[night] = diurnal(mid[night], weather.anchor_t, anchors)
    cloud, wind = h.cloud.copy(), h.wind_speed.copy()
    cloud[night] = 0.0
    wind[night] = np.minimum(wind[night], 0.8)
    rh = h.relative_humidity.copy()
    centres = day_start_ms(weather.daily.day) + MS_PER_DAY // 2
    vapour = np.interp(mid[night], centres, weather.vapour_kpa)
    rh[night] = np.clip(100.0 * vapour / saturation_vapour_kpa(temp[night]), 8.0, 100.0)
    hourly = dataclasses.replace(
        h, air_temperature=temp, cloud=cloud, wind_speed=wind, relative_humidity=rh
    )
    tmin = weather.daily.tmin.copy()
    day = int(night[-1] // 24)
    tmin[day] = min(tmin[day], event.amount)
    daily = dataclasses.replace(weather.daily, tmin=tmin)
    return dataclasses.replace(weather, hourly=hourly, daily=daily, anchor_v=anchors, noise_h=noise)

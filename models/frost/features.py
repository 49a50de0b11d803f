"""Features of one issue time, from the site's hours labelled at or before it, and the target.

Row (d, h) is the forecast issued on day d at h:00 for the minimum of the hours labelled after
h:00 up to the morning hour (08:00) of day d + 1. Every feature of the row reads day d's hours
up to column h and earlier days only; the target and `observed` read the hours after h.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.frost.hourly import HOURS, FloatArray, HourlyWeather
from models.frost.physical import MIDDAY_HOUR, craddock_pritchard

DEFAULT_ISSUE_HOURS = (15, 21)
MORNING_HOUR = 8
# A night whose window has fewer readings than this share has no observed minimum.
MIN_NIGHT_COVERAGE = 0.75
CLEARNESS_DAYS = 14
FEATURE_NAMES: tuple[str, ...] = (
    "issue_hour",
    "doy_sin",
    "doy_cos",
    "t_now",
    "td_now",
    "rh_now",
    "depression",
    "t_midday",
    "td_midday",
    "tmax_today",
    "cooling_3h",
    "td_change_6h",
    "wind_now",
    "wind_day",
    "radiation_today",
    "clearness",
    "radiation_late",
    "last_min",
    "rule",
    "td_change_3h",
    "wind_hour",
    "td_min_3h",
    "t_mean_day",
    "t_prev_hour",
    "clearness_late",
    "clearness_noon",
    "cooling_since_max",
    "brunt_minimum",
    "calm_hours",
    "t_change_24h",
    "td_change_24h",
    "wind_max_day",
)
# Hours of the "noon" sunshine block for the clearness at that time of day (10:00-14:00 labels).
NOON_HOURS = (10, 15)
# Sunset for the √t extrapolation: the first hour label from noon on whose mean radiation is
# below this (W/m²). A design choice, the same floor as the clearness ratios.
DARK_W_M2 = 5.0
# At least this many hourly temperatures after sunset for the √t fit (a line needs two; three
# keep one stray hour from setting the slope). Design choice.
BRUNT_MIN_HOURS = 3
# The hour the √t curve is extrapolated to: 06:00 next morning (label 30 of the issue day),
# about sunrise, where a radiation night is coldest. Design choice.
BRUNT_END_LABEL = HOURS + 6
# Calm: wind below 1 m/s. Design choice (a common threshold for a radiation night; not taken
# from a specific table).
CALM_M_S = 1.0


@dataclass(frozen=True, slots=True, eq=False)
class NightRows:
    """The feature matrix with one row per (day, issue hour), the target and the rule inputs."""

    x: FloatArray
    day: npt.NDArray[np.int64]
    hour: npt.NDArray[np.int64]
    observed: FloatArray
    persistence: FloatArray
    t_midday: FloatArray
    td_midday: FloatArray
    recent_temperature: npt.NDArray[np.bool_]
    first_day: dt.date

    def dates(self) -> list[dt.date]:
        """The issue date of each row."""
        return [self.first_day + dt.timedelta(days=int(d)) for d in self.day]

    def issued_at(self) -> list[dt.datetime]:
        """The issue time of each row (local)."""
        return [
            dt.datetime.combine(d, dt.time(int(h)))
            for d, h in zip(self.dates(), self.hour, strict=True)
        ]


def _quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """A numpy nan-reduction without the all-NaN warning (the NaN result is what we want)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def validate_hours(issue_hours: tuple[int, ...], morning_hour: int) -> None:
    """ValueError unless every issue hour is after the morning hour and before midnight."""
    if not issue_hours:
        raise ValueError("at least one issue hour is needed")
    for h in issue_hours:
        # After the morning hour, so that last night's minimum is known when the forecast is made.
        if not morning_hour < h < HOURS:
            raise ValueError(f"issue hour {h} must be after {morning_hour}:00 and before 24:00")


def night_minimum(grid: FloatArray, hour: int, morning_hour: int) -> FloatArray:
    """Per day: the minimum of the hours after `hour` to `morning_hour` of the next day."""
    nxt = np.vstack([grid[1:], np.full((1, HOURS), np.nan)])
    window = np.hstack([grid[:, hour + 1 :], nxt[:, : morning_hour + 1]])
    enough = np.isfinite(window).sum(axis=1) >= MIN_NIGHT_COVERAGE * window.shape[1]
    return np.where(enough, _quiet(np.nanmin, window, axis=1), np.nan)


def _mean(block: FloatArray) -> FloatArray:
    """Row means ignoring NaN."""
    return _quiet(np.nanmean, block, axis=1)


def _relative_to_recent_best(block: FloatArray, floor: float) -> FloatArray:
    """Each day's mean of `block` over the sunniest such mean of the last two weeks (today in).

    NaN when that best is below `floor` W/m² (e.g. after sunset), where a ratio means nothing.
    """
    mean = _mean(block)
    days = len(mean)
    best = np.array(
        [_quiet(np.nanmax, mean[max(d - CLEARNESS_DAYS, 0) : d + 1]) for d in range(days)]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(best >= floor, mean / best, np.nan)


def brunt_minimum(t: FloatArray, sun: FloatArray, h: int) -> FloatArray:
    """Per day: the temperatures since sunset extrapolated along a √t curve to 06:00 next day.

    Brunt's nocturnal cooling, in the form used for frost nowcasts by Snyder & de Melo-Abreu
    (2005), FAO "Frost protection" vol. 1 (Brunt's text not consulted): on a clear calm night
    the air cools about as the square root of the time since cooling began, T = a + b√(t - t0),
    a and b fitted each night (docs/frost.md). The line is fitted
    to the hours from the first dark hour (radiation below DARK_W_M2) to h; NaN with fewer than
    BRUNT_MIN_HOURS of them, no radiation sensor, or before sunset. A warming slope is taken as
    no cooling (b = 0): the extrapolation never lies above the last reading's level.
    """
    out = np.full(len(t), np.nan)
    for d in range(len(t)):
        dark = np.flatnonzero(sun[d, MIDDAY_HOUR : h + 1] < DARK_W_M2)
        if not len(dark):
            continue
        start = MIDDAY_HOUR + int(dark[0])
        cols = np.arange(start, h + 1)
        temps = t[d, cols]
        ok = np.isfinite(temps)
        if ok.sum() < BRUNT_MIN_HOURS:
            continue
        # t0 is the start of the first dark hour (the label marks the hour's end).
        root = np.sqrt(cols[ok] - (start - 1.0))
        slope, level = np.polyfit(root, temps[ok], 1)
        slope = min(float(slope), 0.0)
        out[d] = level + slope * np.sqrt(BRUNT_END_LABEL - (start - 1.0))
        if slope == 0.0:
            out[d] = float(np.mean(temps[ok]))
    return out


def _hour_rows(w: HourlyWeather, h: int, morning_hour: int) -> tuple[FloatArray, FloatArray]:
    """Features (days, f) and target for issue hour h."""
    t, td, rh = w.grid(w.air_temperature), w.grid(w.dew_point), w.grid(w.relative_humidity)
    wind, sun = w.grid(w.wind_speed), w.grid(w.solar_radiation)
    days = w.days
    target = night_minimum(t, h, morning_hour)
    last_min = np.concatenate([[np.nan], target[:-1]])
    doy = np.array([w.date(d).timetuple().tm_yday for d in range(days)], dtype=np.float64)
    angle = 2.0 * np.pi * doy / 365.25
    sun_known = np.isfinite(sun[:, : h + 1]).any(axis=1)
    radiation = np.where(sun_known, np.nansum(sun[:, : h + 1], axis=1) * 3600.0 / 1e6, np.nan)
    # Clearness: today's radiation against the sunniest of the last two weeks (today included),
    # a cloudiness proxy that needs neither the site's coordinates nor a clear-sky model.
    best = np.array(
        [_quiet(np.nanmax, radiation[max(d - CLEARNESS_DAYS, 0) : d + 1]) for d in range(days)]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        clearness = np.where(best > 0.0, radiation / best, np.nan)
    midday = min(MIDDAY_HOUR, h)
    # Yesterday's readings at the issue hour (NaN on the first day): an air-mass change.
    t_yesterday = np.concatenate([[np.nan], t[:-1, h]])
    td_yesterday = np.concatenate([[np.nan], td[:-1, h]])
    columns = [
        np.full(days, float(h)),
        np.sin(angle),
        np.cos(angle),
        t[:, h],
        td[:, h],
        rh[:, h],
        t[:, h] - td[:, h],
        t[:, midday],
        td[:, midday],
        _quiet(np.nanmax, t[:, 6 : h + 1], axis=1),
        t[:, h] - t[:, h - 3],
        td[:, h] - td[:, h - 6],
        _mean(wind[:, h - 2 : h + 1]),
        _mean(wind[:, 9 : h + 1]),
        radiation,
        clearness,
        _mean(sun[:, h - 2 : h + 1]),
        last_min,
        craddock_pritchard(t[:, midday], td[:, midday]),
        td[:, h] - td[:, h - 3],
        wind[:, h],
        _quiet(np.nanmin, td[:, h - 3 : h + 1], axis=1),
        _mean(t[:, : h + 1]),
        t[:, h - 1],
        # Cloudiness now and at noon: sunshine against the site's best at that time of day.
        _relative_to_recent_best(sun[:, h - 3 : h + 1], 5.0),
        _relative_to_recent_best(sun[:, NOON_HOURS[0] : min(NOON_HOURS[1], h + 1)], 5.0),
        # Nocturnal cooling: how far the air has fallen from the day's maximum, the √t
        # extrapolation of the hours after sunset, and how many of the last 3 hours were calm.
        t[:, h] - _quiet(np.nanmax, t[:, 6 : h + 1], axis=1),
        brunt_minimum(t, sun, h),
        np.where(
            np.isfinite(wind[:, h - 2 : h + 1]).any(axis=1),
            (wind[:, h - 2 : h + 1] < CALM_M_S).sum(axis=1).astype(np.float64),
            np.nan,
        ),
        # A front: the air and its dew point now against the same hour yesterday (a dry, cold
        # air mass arriving brings the clear nights), and the day's strongest wind so far.
        t[:, h] - t_yesterday,
        td[:, h] - td_yesterday,
        _quiet(np.nanmax, wind[:, 9 : h + 1], axis=1),
    ]
    return np.column_stack(columns), target


def night_rows(
    weather: HourlyWeather,
    issue_hours: tuple[int, ...] = DEFAULT_ISSUE_HOURS,
    morning_hour: int = MORNING_HOUR,
) -> NightRows:
    """Every (day, issue hour) of the weather, ordered by day then hour."""
    validate_hours(issue_hours, morning_hour)
    per_hour = [_hour_rows(weather, h, morning_hour) for h in issue_hours]
    days = weather.days
    k = len(issue_hours)
    x = np.stack([f for f, _ in per_hour], axis=1).reshape(days * k, len(FEATURE_NAMES))
    y = np.stack([t for _, t in per_hour], axis=1).reshape(days * k)
    col = {name: j for j, name in enumerate(FEATURE_NAMES)}
    t = weather.grid(weather.air_temperature)
    recent = np.stack(
        [np.isfinite(t[:, h - 2 : h + 1]).any(axis=1) for h in issue_hours], axis=1
    ).reshape(days * k)
    return NightRows(
        x=x,
        day=np.repeat(np.arange(days, dtype=np.int64), k),
        hour=np.tile(np.asarray(issue_hours, dtype=np.int64), days),
        observed=y,
        persistence=x[:, col["last_min"]].copy(),
        t_midday=x[:, col["t_midday"]].copy(),
        td_midday=x[:, col["td_midday"]].copy(),
        recent_temperature=recent,
        first_day=weather.first_day,
    )

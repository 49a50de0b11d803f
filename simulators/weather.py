"""Seedable weather for Nagano sites: temperature, humidity, sun, rain, snow and wind.

Days come from a stochastic generator anchored on the normals in `simulators.climate`
(JMA 1991–2020, Nagano 47610; the table and citation are there): a two-state Markov chain for
wet days with gamma amounts, a tsuyu season of varying onset and end, Poisson typhoons in late
summer, AR(1) temperature anomalies (lag-1 correlation 0.72, i.e. spells of several days) on top
of a smooth seasonal anomaly drawn per quarter and per year, and cloudiness that couples rain,
sunshine and the diurnal range. Hours are disaggregated from days; values at sensor times are
interpolated from hours. The whole span is generated from 1 January of the first year to
31 December of the last, so a season is complete whatever window is sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.time import MS_PER_DAY, MS_PER_HOUR
from simulators.climate import MONTH_DAYS, Climate, climatology
from simulators.common import (
    BoolArray,
    FloatArray,
    IntArray,
    Seed,
    ar1,
    day_of_year,
    day_start_ms,
    jan1,
    local_day,
    make_rng,
    month_of,
    smooth_noise,
    year_of,
)
from simulators.solar import (
    clear_sky_ghi,
    cos_zenith,
    extraterrestrial_mj,
    hargreaves_et0,
    saturation_vapour_kpa,
    sunrise_clock_h,
)

# JMA 1991–2020 mean tsuyu onset and end for Kanto-Koshin: about 7 June and 19 July.
TSUYU_ONSET_DOY = 158
TSUYU_END_DOY = 200
TYPHOON_PEAK_DOY = 255
TEMPERATURE_PHI = 0.72
TMAX_CLOCK_H = 14.5
# Falling-limb shape exponent: evenings cool fast, nights flatten, so the daily mean sits
# below (max + min) / 2 as in the JMA normals.
EVENING_SHAPE = 0.8
DEGREE_DAY_MELT_MM = 3.0
SNOW_DENSITY = 0.25


@dataclass(frozen=True, slots=True, eq=False)
class DailyWeather:
    """Daily aggregates; `day` is the JST date as days since 1970-01-01.

    tmin and tmax are the morning minimum and afternoon maximum the hourly curve passes through;
    rain_mm is liquid, snow_mm is water equivalent, precip_mm both; radiation_mj is global.
    """

    day: IntArray
    tmin: FloatArray
    tmax: FloatArray
    tmean: FloatArray
    radiation_mj: FloatArray
    rain_mm: FloatArray
    snow_mm: FloatArray
    precip_mm: FloatArray
    melt_mm: FloatArray
    snow_depth_cm: FloatArray
    et0_mm: FloatArray
    rh_mean: FloatArray
    wind_mean: FloatArray
    tsuyu: BoolArray
    typhoon: BoolArray

    @property
    def dates(self) -> np.ndarray:
        """The days as numpy datetime64[D]."""
        return self.day.astype("datetime64[D]")


@dataclass(frozen=True, slots=True, eq=False)
class HourlyWeather:
    """Hourly series; entry i covers [t_ms[i], t_ms[i] + 1 h)."""

    t_ms: IntArray
    air_temperature: FloatArray
    relative_humidity: FloatArray
    solar_radiation: FloatArray
    wind_speed: FloatArray
    wind_direction: FloatArray
    rain_mm: FloatArray
    snow_mm: FloatArray
    melt_mm: FloatArray
    snow_swe_mm: FloatArray
    cloud: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Weather:
    """One site's weather over whole calendar years, sampled at any time inside them."""

    climate: Climate
    daily: DailyWeather
    hourly: HourlyWeather
    anchor_t: IntArray
    anchor_v: FloatArray
    noise_h: FloatArray
    vapour_kpa: FloatArray

    def air_temperature(self, ts_ms: IntArray) -> FloatArray:
        """Air temperature (°C) at each timestamp."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        mid = self.hourly.t_ms + MS_PER_HOUR // 2
        return diurnal(ts, self.anchor_t, self.anchor_v) + np.interp(ts, mid, self.noise_h)

    def relative_humidity(
        self, ts_ms: IntArray, temperature: FloatArray | None = None
    ) -> FloatArray:
        """Relative humidity (%) at each timestamp."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        temp = self.air_temperature(ts) if temperature is None else temperature
        centres = day_start_ms(self.daily.day) + MS_PER_DAY // 2
        vapour = np.interp(ts, centres, self.vapour_kpa)
        return np.clip(100.0 * vapour / saturation_vapour_kpa(temp), 8.0, 100.0)

    def solar_radiation(self, ts_ms: IntArray) -> FloatArray:
        """Global horizontal irradiance (W/m²) at each timestamp."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        mid = self.hourly.t_ms + MS_PER_HOUR // 2
        cloud = np.interp(ts, mid, self.hourly.cloud)
        clear = clear_sky_ghi(
            cos_zenith(ts, self.climate.latitude, self.climate.longitude), self.climate.elevation_m
        )
        return clear * _cloud_transmission(cloud)

    def wind(self, ts_ms: IntArray) -> tuple[FloatArray, FloatArray]:
        """Hourly-interpolated wind speed (m/s) and direction (° from north) at each timestamp."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        mid = self.hourly.t_ms + MS_PER_HOUR // 2
        rad = np.radians(self.hourly.wind_direction)
        u = np.interp(ts, mid, np.sin(rad))
        v = np.interp(ts, mid, np.cos(rad))
        return np.interp(ts, mid, self.hourly.wind_speed), np.degrees(np.arctan2(u, v)) % 360.0

    def rain_since(self, ts_ms: IntArray, step_ms: int, tip_mm: float = 0.2) -> FloatArray:
        """Liquid rain (mm) in (ts - step, ts] as a tipping bucket of `tip_mm` would count it."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        edges = np.concatenate([self.hourly.t_ms, [self.hourly.t_ms[-1] + MS_PER_HOUR]])
        cum = np.concatenate([[0.0], np.cumsum(self.hourly.rain_mm)])
        tips_now = np.floor(np.interp(ts, edges, cum) / tip_mm + 1e-9)
        tips_before = np.floor(np.interp(ts - step_ms, edges, cum) / tip_mm + 1e-9)
        return np.round((tips_now - tips_before) * tip_mm, 1)

    def covers(self, start_ms: int, end_ms: int) -> bool:
        """Whether [start, end) lies inside the simulated span."""
        first = int(self.hourly.t_ms[0])
        return first <= start_ms and end_ms <= int(self.hourly.t_ms[-1]) + MS_PER_HOUR


def _cloud_transmission(cloud: FloatArray) -> FloatArray:
    """Share of clear-sky irradiance that passes a cloud fraction (Kasten–Czeplak form)."""
    return 1.0 - 0.75 * np.power(np.clip(cloud, 0.0, 1.0), 2.5)


def diurnal(ts: IntArray, anchor_t: IntArray, anchor_v: FloatArray) -> FloatArray:
    """Temperature between alternating min (sunrise) and max (afternoon) anchors."""
    i = np.clip(np.searchsorted(anchor_t, ts, side="right") - 1, 0, len(anchor_t) - 2)
    span = (anchor_t[i + 1] - anchor_t[i]).astype(np.float64)
    f = np.clip((ts - anchor_t[i]) / span, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * f)
    # Anchors alternate max, min, max, ...; even segments start at a max and fall.
    w = np.where(i % 2 == 0, np.power(w, EVENING_SHAPE), w)
    return anchor_v[i] + (anchor_v[i + 1] - anchor_v[i]) * w


def simulate_weather(climate: Climate, start_ms: int, duration_ms: int, seed: Seed) -> Weather:
    """Weather of `climate` for the calendar years that [start, start+duration) touches."""
    rng = make_rng(seed)
    first_year = int(year_of(local_day(start_ms)))
    last_year = int(year_of(local_day(start_ms + max(duration_ms, 1) - 1)))
    first_day = jan1(first_year)
    days = first_day + np.arange(jan1(last_year + 1) - first_day, dtype=np.int64)
    return _build(climate, days, rng)


def _build(climate: Climate, day: IntArray, rng: np.random.Generator) -> Weather:
    """Generate days, then hours, then the daily aggregates."""
    n = len(day)
    doy = day_of_year(day)
    month = month_of(day)
    year = year_of(day)
    # Rain occurrence and amounts.
    pi = np.clip(climatology(_per_day(climate.wet_days), doy), 0.02, 0.9)
    rate, typhoon_mean = climate.typhoons_per_year, 0.45 * climate.precip_mm[8]
    share = {8: 0.2, 9: 0.6, 10: 0.2}
    baseline = tuple(
        max(p - rate * 1.4 * typhoon_mean * share.get(m + 1, 0.0), 0.5 * p)
        for m, p in enumerate(climate.precip_mm)
    )
    per_wet_day = tuple(b / w for b, w in zip(baseline, climate.wet_days, strict=True))
    mean_amount = np.maximum(climatology(per_wet_day, doy), 1.5)
    tsuyu = np.zeros(n, dtype=bool)
    typhoon = np.zeros(n, dtype=bool)
    typhoon_mm = np.zeros(n)
    for y in np.unique(year):
        onset = TSUYU_ONSET_DOY + round(7.0 * rng.standard_normal())
        end = max(onset + 20, TSUYU_END_DOY + round(8.0 * rng.standard_normal()))
        in_year = year == y
        tsuyu |= in_year & (doy >= onset) & (doy <= end)
        for _ in range(rng.poisson(rate)):
            when = int(np.clip(rng.normal(TYPHOON_PEAK_DOY, 20.0), 213, 300))
            idx = np.flatnonzero(in_year & (doy == when))
            amount = rng.gamma(2.0, typhoon_mean / 2.0)
            for k, part in ((0, 1.0), (1, 0.35)):
                if len(idx) and idx[0] + k < n:
                    typhoon[idx[0] + k] = True
                    typhoon_mm[idx[0] + k] += part * amount
    early_summer = (month == 6) | (month == 7)
    pi = np.where(tsuyu, np.minimum(0.85, 1.1 * pi), np.where(early_summer, 0.7 * pi, pi))
    persistence = np.where(tsuyu, 0.5, 0.3)
    p11 = pi + (1.0 - pi) * persistence
    p01 = pi * (1.0 - persistence)
    draws = rng.random(n)
    wet = np.zeros(n, dtype=bool)
    state = bool(draws[0] < pi[0])
    for i in range(n):
        state = bool(draws[i] < (p11[i] if state else p01[i]))
        wet[i] = state
    amount_scale = np.where(tsuyu, 1.0, np.where(early_summer, 0.85, 1.0))
    amounts = 1.0 + rng.gamma(0.75, (mean_amount - 1.0) / 0.75) * amount_scale
    precip = np.where(wet, amounts, 0.0) + typhoon_mm
    wet |= typhoon
    # Clouds, temperature and humidity.
    dry_mean = climatology(climate.dry_cloud, doy)
    cloud = np.where(wet, rng.beta(7.0, 1.0, n), rng.beta(4.0 * dry_mean, 4.0 * (1.0 - dry_mean)))
    cloud_expected = pi * 0.875 + (1.0 - pi) * dry_mean
    sigma = 2.4 + 0.6 * np.cos(2.0 * np.pi * (doy - 20) / 365.0)
    anomaly = ar1(rng, n, TEMPERATURE_PHI, 1.0) * sigma + _seasonal_anomaly(day, year, rng)
    cloud_effect = cloud - cloud_expected
    tmax = (
        climatology(climate.tmax, doy) + anomaly + 0.7 * rng.standard_normal(n) - 4.0 * cloud_effect
    )
    tmin = (
        climatology(climate.tmin, doy)
        + 0.85 * anomaly
        + 0.7 * rng.standard_normal(n)
        + 2.5 * cloud_effect
    )
    tmin = np.minimum(tmin, tmax - 1.0)
    rh = climatology(climate.rh_percent, doy) / 100.0
    vapour = (
        rh
        * saturation_vapour_kpa(climatology(climate.tmean, doy) + 0.9 * anomaly)
        * np.exp(0.08 * rng.standard_normal(n))
        * (1.0 + 0.12 * (wet - pi))
    )
    vapour = np.minimum(vapour, saturation_vapour_kpa(tmin))
    # Wind: persistent daily means; typhoons bring gales from the south-east.
    wind_day = (
        climatology(climate.wind_ms, doy)
        * np.exp(0.35 * ar1(rng, n, 0.5, 1.0) - 0.06)
        * np.where(wet, 1.15, 1.0)
    )
    wind_day = np.where(typhoon, 5.0 + rng.gamma(2.0, 1.2, n), wind_day)
    wind_dir_day = np.asarray(climate.wind_from_deg)[month - 1] + 50.0 * rng.standard_normal(n)
    wind_dir_day = np.where(typhoon, 135.0 + 30.0 * rng.standard_normal(n), wind_dir_day)
    days = _Days(
        day,
        doy,
        month,
        tmin,
        tmax,
        cloud,
        vapour,
        precip,
        wet,
        typhoon,
        tsuyu,
        wind_day,
        wind_dir_day,
    )
    return _hourly(climate, days, rng)


def _per_day(monthly: tuple[float, ...]) -> tuple[float, ...]:
    """Monthly counts of days as a probability per day."""
    return tuple(v / d for v, d in zip(monthly, MONTH_DAYS, strict=True))


def _seasonal_anomaly(day: IntArray, year: IntArray, rng: np.random.Generator) -> FloatArray:
    """A smooth anomaly per quarter on top of one per year: warm springs, cool summers."""
    years = range(int(year.min()) - 1, int(year.max()) + 2)
    node_day: list[int] = []
    node_value: list[float] = []
    for y in years:
        offset = 0.5 * rng.standard_normal()
        for centre in (14, 104, 195, 287):
            node_day.append(jan1(y) + centre)
            node_value.append(offset + 0.7 * rng.standard_normal())
    return np.interp(day, node_day, node_value)


def _storm_shape(
    rng: np.random.Generator, month: int, typhoon: bool, tsuyu: bool
) -> tuple[int, int]:
    """Start hour and duration of a day's rain: fronts, afternoon showers or a typhoon."""
    if typhoon:
        return int(rng.integers(0, 12)), int(rng.integers(12, 21))
    if 7 <= month <= 9 and not tsuyu and rng.random() < 0.6:
        return int(rng.integers(13, 19)), int(rng.integers(1, 4))
    return int(rng.integers(0, 24)), int(rng.integers(3, 13))


@dataclass(frozen=True, slots=True, eq=False)
class _Days:
    """Generated daily state that the hourly disaggregation needs."""

    day: IntArray
    doy: IntArray
    month: IntArray
    tmin: FloatArray
    tmax: FloatArray
    cloud: FloatArray
    vapour: FloatArray
    precip: FloatArray
    wet: BoolArray
    typhoon: BoolArray
    tsuyu: BoolArray
    wind: FloatArray
    wind_dir: FloatArray


def _hourly(climate: Climate, d: _Days, rng: np.random.Generator) -> Weather:
    """Disaggregate days into hours and collect the daily aggregates."""
    n = len(d.day)
    starts = day_start_ms(d.day)
    t_h = starts[0] + MS_PER_HOUR * np.arange(24 * n, dtype=np.int64)
    mid = t_h + MS_PER_HOUR // 2
    sunrise = starts + np.round(
        sunrise_clock_h(d.doy, climate.latitude, climate.longitude) * MS_PER_HOUR
    ).astype(np.int64)
    peak = starts + int(TMAX_CLOCK_H * MS_PER_HOUR)
    anchor_t = np.empty(2 * n + 2, dtype=np.int64)
    anchor_v = np.empty(2 * n + 2)
    anchor_t[0], anchor_v[0] = peak[0] - MS_PER_DAY, d.tmax[0]
    anchor_t[1:-1:2], anchor_v[1:-1:2] = sunrise, d.tmin
    anchor_t[2:-1:2], anchor_v[2:-1:2] = peak, d.tmax
    anchor_t[-1], anchor_v[-1] = sunrise[-1] + MS_PER_DAY, d.tmin[-1]
    noise_h = smooth_noise(rng, 24 * n, 0.3)
    temp_h = diurnal(mid, anchor_t, anchor_v) + noise_h
    # Rain: each wet day's total falls as one storm of a few hours.
    precip_h = np.zeros(24 * n)
    for i in np.flatnonzero(d.wet & (d.precip > 0)):
        start, length = _storm_shape(rng, int(d.month[i]), bool(d.typhoon[i]), bool(d.tsuyu[i]))
        weights = rng.gamma(1.5, 1.0, length)
        lo = min(24 * i + start, 24 * n - length)
        precip_h[lo : lo + length] += d.precip[i] * weights / weights.sum()
    snow_fraction = np.clip((2.0 - temp_h) / 3.0, 0.0, 1.0)
    snow_h = precip_h * snow_fraction
    rain_h = precip_h - snow_h
    melt_h, swe_h = _snowpack(snow_h, rain_h, temp_h)
    cloud_h = np.clip(np.repeat(d.cloud, 24) + smooth_noise(rng, 24 * n, 0.12), 0.0, 1.0)
    # Six sub-samples an hour keep daily radiation sums accurate near sunrise and sunset.
    sub = (t_h[:, None] + (MS_PER_HOUR // 12) * (2 * np.arange(6) + 1)[None, :]).ravel()
    clear_sub = clear_sky_ghi(
        cos_zenith(sub, climate.latitude, climate.longitude), climate.elevation_m
    ).reshape(-1, 6)
    ghi_h = clear_sub.mean(axis=1) * _cloud_transmission(cloud_h)
    centres = starts + MS_PER_DAY // 2
    rh_h = np.clip(
        100.0 * np.interp(mid, centres, d.vapour) / saturation_vapour_kpa(temp_h), 8.0, 100.0
    )
    hour = np.tile(np.arange(24), n)
    wind_h = (
        np.repeat(d.wind, 24)
        * (1.0 + 0.35 * np.cos(2.0 * np.pi * (hour - 14) / 24.0))
        * rng.gamma(12.0, 1.0 / 12.0, 24 * n)
    )
    dir_h = (np.repeat(d.wind_dir, 24) + 20.0 * rng.standard_normal(24 * n)) % 360.0
    hourly = HourlyWeather(
        t_h, temp_h, rh_h, ghi_h, wind_h, dir_h, rain_h, snow_h, melt_h, swe_h, cloud_h
    )
    ra = extraterrestrial_mj(d.doy, climate.latitude)
    daily = DailyWeather(
        day=d.day,
        tmin=d.tmin,
        tmax=d.tmax,
        tmean=temp_h.reshape(n, 24).mean(axis=1),
        radiation_mj=ghi_h.reshape(n, 24).sum(axis=1) * 3600.0 / 1e6,
        rain_mm=rain_h.reshape(n, 24).sum(axis=1),
        snow_mm=snow_h.reshape(n, 24).sum(axis=1),
        precip_mm=precip_h.reshape(n, 24).sum(axis=1),
        melt_mm=melt_h.reshape(n, 24).sum(axis=1),
        snow_depth_cm=swe_h.reshape(n, 24)[:, -1] / (10.0 * SNOW_DENSITY),
        et0_mm=hargreaves_et0(d.tmin, d.tmax, ra),
        rh_mean=rh_h.reshape(n, 24).mean(axis=1),
        wind_mean=wind_h.reshape(n, 24).mean(axis=1),
        tsuyu=d.tsuyu,
        typhoon=d.typhoon,
    )
    return Weather(climate, daily, hourly, anchor_t, anchor_v, noise_h, d.vapour)


def _snowpack(
    snow_h: FloatArray, rain_h: FloatArray, temp_h: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Hourly melt and snow water equivalent by a degree-day model."""
    rate = DEGREE_DAY_MELT_MM / 24.0 * np.maximum(temp_h, 0.0) + 0.0125 * rain_h * np.maximum(
        temp_h, 0.0
    )
    melt = np.zeros(len(snow_h))
    swe = np.zeros(len(snow_h))
    pack = 0.0
    for i, (fall, potential) in enumerate(zip(snow_h.tolist(), rate.tolist(), strict=True)):
        pack += fall
        m = min(pack, potential)
        pack -= m
        melt[i] = m
        swe[i] = pack
    return melt, swe

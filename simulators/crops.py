"""Crop phenology by growing-degree days and season yields under water, heat and cold stress.

Thresholds are illustrative but chosen to reproduce the Nagano calendar: highland crisphead
lettuce 700 °C·d above 4.4 °C from transplanting (about 40-45 days in midsummer at Kawakami,
65+ in spring); rice heading at 950 °C·d above 10 °C after a mid-May transplant (early August) and
harvest at 1,000 °C·d of mean temperature after heading (the usual rule of thumb for Japanese
rice, giving mid to late September); 'Fuji'-type apple bloom at 200 °C·d above 5 °C from
1 February (late April) and harvest at 2,950 °C·d above 5 °C after bloom (late October to
mid-November, at the latest 16 November). Potential yields: lettuce 35 t/ha, brown rice
7 t/ha, apple 30 t/ha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.time import from_day_number
from simulators.common import BoolArray, FloatArray, jan1
from simulators.truth import Crop, SeasonOutcome
from simulators.weather import DailyWeather


@dataclass(frozen=True, slots=True)
class CropParams:
    """Thermal time, stress thresholds, water use and potential yield of a crop."""

    base_c: float
    cap_c: float
    maturity_gdd: float
    potential_t_ha: float
    heat_c: float
    heat_loss: float
    kc_season: float
    kc_off: float
    radiation_ref_mj: float


PARAMS: dict[Crop, CropParams] = {
    Crop.LETTUCE: CropParams(4.4, 25.0, 700.0, 35.0, 28.0, 0.8, 1.0, 0.3, 17.0),
    Crop.RICE: CropParams(10.0, 30.0, 950.0, 7.0, 35.0, 1.0, 1.15, 0.3, 16.0),
    Crop.APPLE: CropParams(5.0, 30.0, 2950.0, 30.0, 33.0, 0.8, 0.95, 0.4, 16.0),
}
RICE_GRAIN_FILL_CD = 1000.0
APPLE_BLOOM_GDD = 200.0
APPLE_LATEST_HARVEST_DOY = 320
# Rice paddies are drained for mid-season drying (nakaboshi) and before harvest.
NAKABOSHI_AFTER_DAYS = 40
NAKABOSHI_DAYS = 10
DRAIN_BEFORE_HARVEST_DAYS = 20


@dataclass(frozen=True, slots=True)
class Season:
    """Indices into the daily arrays: start (planting or bloom), mid (heading/bloom), maturity."""

    year: int
    start: int
    mid: int
    maturity: int
    forced: bool


def _reach(cum: FloatArray, target: float) -> int | None:
    """First index at which a cumulative sum reaches `target`, if it does."""
    idx = int(np.searchsorted(cum, target))
    return idx if idx < len(cum) else None


def _gdd(tmean: FloatArray, base: float, cap: float) -> FloatArray:
    """Daily growing-degree days with a base and an upper cap on the mean temperature."""
    return np.maximum(np.minimum(tmean, cap) - base, 0.0)


def phenology(crop: Crop, daily: DailyWeather, plantings: tuple[int, ...]) -> list[Season]:
    """The seasons of a crop in every calendar year of `daily` that complete inside it."""
    p = PARAMS[crop]
    first = int(daily.day[0])
    years = sorted(
        {
            int(y)
            for y in daily.day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
            + 1970
        }
    )
    gdd = _gdd(daily.tmean, p.base_c, p.cap_c)
    out: list[Season] = []
    for year in years:
        y0 = jan1(year) - first
        if crop is Crop.APPLE:
            bloom = _reach(np.cumsum(gdd[y0 + 31 :]), APPLE_BLOOM_GDD)
            if bloom is None:
                continue
            start = y0 + 31 + bloom
            latest = y0 + APPLE_LATEST_HARVEST_DOY - 1
            ripe = _reach(np.cumsum(gdd[start:]), p.maturity_gdd)
            end = start + ripe if ripe is not None else latest
            if latest < len(gdd) and end <= latest:
                out.append(Season(year, start, start, end, False))
            elif latest < len(gdd):
                out.append(Season(year, start, start, latest, True))
            continue
        for doy in plantings:
            start = y0 + doy - 1
            mid = _reach(np.cumsum(gdd[start:]), p.maturity_gdd)
            if mid is None:
                continue
            mid += start
            if crop is Crop.LETTUCE:
                out.append(Season(year, start, mid, mid, False))
                continue
            fill = _reach(np.cumsum(np.maximum(daily.tmean[mid:], 0.0)), RICE_GRAIN_FILL_CD)
            if fill is not None:
                out.append(Season(year, start, mid, mid + fill, False))
    return out


def crop_coefficient(crop: Crop, n_days: int, seasons: list[Season]) -> FloatArray:
    """Daily crop coefficient Kc: off-season ground cover, rising to full canopy in season."""
    p = PARAMS[crop]
    kc = np.full(n_days, p.kc_off)
    for s in seasons:
        length = s.maturity - s.start + 1
        ramp = np.clip(np.arange(length) / max(0.4 * length, 1.0), 0.0, 1.0)
        kc[s.start : s.maturity + 1] = p.kc_off + (p.kc_season - p.kc_off) * ramp
    return kc


def flooded(n_days: int, seasons: list[Season]) -> BoolArray:
    """Days a rice paddy holds standing water: transplant to drainage, minus nakaboshi."""
    wet = np.zeros(n_days, dtype=bool)
    for s in seasons:
        wet[max(s.start - 5, 0) : max(s.maturity - DRAIN_BEFORE_HARVEST_DAYS, s.start)] = True
        dry = s.start + NAKABOSHI_AFTER_DAYS
        wet[dry : dry + NAKABOSHI_DAYS] = False
    return wet


def outcome(
    site: str,
    field: str,
    crop: Crop,
    *,
    daily: DailyWeather,
    ks_daily: FloatArray,
    season: Season,
    rng: np.random.Generator,
) -> SeasonOutcome:
    """Maturity date and yield of one season from its weather and water stress."""
    p = PARAMS[crop]
    span = slice(season.start, season.maturity + 1)
    tmax, tmin = daily.tmax, daily.tmin
    if crop is Crop.RICE:
        # Heat around heading blights the grain; cold at booting makes florets sterile.
        around = slice(max(season.mid - 7, 0), season.mid + 8)
        heat = float(np.mean(tmax[around] > p.heat_c))
        booting = slice(max(season.mid - 15, 0), max(season.mid - 5, 1))
        cold = min(0.6, 0.04 * float(np.sum(np.maximum(19.0 - tmin[booting], 0.0))))
        sun = float(np.mean(daily.radiation_mj[season.mid : season.maturity + 1]))
        frost = 1.0 - cold
    else:
        heat = float(np.mean(tmax[span] > p.heat_c))
        sun = float(np.mean(daily.radiation_mj[span]))
        if crop is Crop.APPLE:
            near_bloom = tmin[max(season.start - 5, 0) : season.start + 10]
            frost = max(0.4, 1.0 - 0.15 * float(np.sum(near_bloom < -2.0)))
        else:
            frost = max(
                0.5, 1.0 - 0.1 * float(np.sum(tmin[season.start : season.start + 20] < -1.0))
            )
    water = float(np.mean(ks_daily[span]))
    radiation = float(np.clip((sun / p.radiation_ref_mj) ** 0.4, 0.8, 1.1))
    noise = float(np.exp(0.06 * rng.standard_normal() - 0.0018))
    forced = 0.85 if season.forced else 1.0
    value = (
        p.potential_t_ha
        * (0.3 + 0.7 * water)
        * max(0.2, 1.0 - p.heat_loss * heat)
        * frost
        * radiation
        * noise
        * forced
    )
    first = int(daily.day[0])
    planted = from_day_number(first + season.start)
    matured = from_day_number(first + season.maturity)
    return SeasonOutcome(
        site=site,
        field=field,
        crop=crop,
        year=season.year,
        planted=planted,
        maturity=matured,
        days_to_maturity=season.maturity - season.start,
        yield_t_ha=round(value, 3),
        water_stress=round(1.0 - water, 4),
        heat_stress=round(heat, 4),
    )

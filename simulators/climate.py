"""Climate normals of the simulated Nagano sites, with their sources.

Nagano city (JMA Nagano Local Meteorological Observatory, station 47610, 36.662 N 138.192 E,
418.2 m). JMA 1991–2020 climatological normals (平年値), from JMA "過去の気象データ検索 > 平年値
(年・月ごとの値)", https://www.data.jma.go.jp/obd/stats/etrn/ :

    month          Jan   Feb   Mar   Apr   May   Jun   Jul   Aug   Sep   Oct   Nov   Dec
    mean °C       -0.4   0.4   4.3  10.6  16.3  20.4  24.2  25.2  21.0  14.4   8.1   2.4
    mean max °C    3.9   5.4  10.1  17.1  22.7  26.0  29.6  31.0  26.2  19.6  13.1   6.4
    mean min °C   -4.2  -3.9  -1.0   4.3  10.2  15.5  19.9  20.6  16.6   9.8   3.4  -1.3
    precip mm     54.7  49.4  60.5  56.4  69.4 106.5 137.4 111.8 125.8 100.2  44.4  50.4

The temperature and precipitation rows are the ones the tests check against. Wet-day counts
(days >= 1 mm), relative humidity, wind, and the dry-day cloudiness are rounded approximations of
the same normals (cloudiness tuned so that global radiation is near the observed ~13 MJ/m²/day
annual mean); they shape the weather but are not asserted.

Verification of these values (the JMA pages themselves could not be consulted while writing):

- station and elevation: Nagano Local Meteorological Observatory at 418.2 m, confirmed by
  https://set333.net/2024/09/nagano-4/ (a visit report quoting the observatory's data);
- consistent with JMA 1991–2020 daily normals as tabulated (source named: JMA) at
  https://samui.shiraberun.com/samuitoshi/naganokennaifuyukion.html: the lowest daily-normal
  maximum at Nagano is 3.5 °C and the lowest daily-normal minimum -4.4 °C, as they must be
  for monthly normals of Jan max 3.9 °C and Jan/Feb min -4.2/-3.9 °C;
- a secondary monthly table (https://japan.world-season.com/climate-nagano/, period not
  stated, probably a recent decade) agrees within 0.4 °C for every monthly mean and maximum,
  but its minima are up to 1.0 °C higher in summer (Aug 21.6 vs 20.6 °C);
- unverified: the other monthly values as typed above, and the precipitation row (its sum,
  966.9 mm, lies above the older 1961–1990 and 1981–2010 normals of 938.3 and 932.7 mm, as
  expected for 1991–2020, but was not checked against JMA).

The lapse-rate sites below are derived, not observed. For Karuizawa (AMeDAS, 999 m) a table of
station normals (https://karuizawa-cottage.com/hisyo.html, period not stated; consistent with
the 1991–2020 daily extremes of 1.9 °C and -8.9 °C cited above) gives Jan max/min 2.0/-8.7 °C
and Aug 25.9/16.7 °C; the Nagano-derived climate used for the Karuizawa stand is 0.4/-7.7 °C
and 27.5/17.1 °C: means agree within about 1 °C, but the real highland diurnal range is larger
(cold-air pooling), by up to 1.6 °C in the maxima. Tests compare the simulated weather with the
normals of this module (derived ones included), which is what the simulator is calibrated on.

Kawakami village (~1,185 m, Minamisaku, 35.93 N 138.58 E; highland lettuce) has no JMA normals
of its own in this module: its temperatures are Nagano's shifted by a lapse rate of
0.6 °C/100 m (-4.6 °C), and its precipitation is an illustrative Pacific-side highland regime
(wetter summers and autumns, drier winters than Nagano, ~1,350 mm/yr, in the style of AMeDAS
Nobeyama). Real highland basins have a wider diurnal range from cold-air pooling; this is a
documented simplification.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Monthly: TypeAlias = tuple[
    float, float, float, float, float, float, float, float, float, float, float, float
]

LAPSE_RATE_C_PER_M = 0.006
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_LEN = np.array(MONTH_DAYS)
_MONTH_START = np.concatenate([[0], np.cumsum(_MONTH_LEN)])
JMA_NORMALS_CITATION = (
    "JMA 1991-2020 climatological normals, station Nagano (47610), "
    "https://www.data.jma.go.jp/obd/stats/etrn/"
)


@dataclass(frozen=True, slots=True)
class Climate:
    """Monthly normals and geography of one site; the weather generator is anchored on them."""

    name: str
    latitude: float
    longitude: float
    elevation_m: float
    tmean: Monthly
    tmax: Monthly
    tmin: Monthly
    precip_mm: Monthly
    wet_days: Monthly
    rh_percent: Monthly
    dry_cloud: Monthly
    wind_ms: Monthly
    wind_from_deg: Monthly
    typhoons_per_year: float
    source: str

    def at_elevation(
        self,
        name: str,
        elevation_m: float,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        precip_factor: float = 1.0,
    ) -> Climate:
        """This climate moved to another elevation by the standard lapse rate."""
        shift = -LAPSE_RATE_C_PER_M * (elevation_m - self.elevation_m)
        return replace(
            self,
            name=name,
            elevation_m=elevation_m,
            latitude=self.latitude if latitude is None else latitude,
            longitude=self.longitude if longitude is None else longitude,
            tmean=_shift(self.tmean, shift),
            tmax=_shift(self.tmax, shift),
            tmin=_shift(self.tmin, shift),
            precip_mm=_scale(self.precip_mm, precip_factor),
            source=f"{self.source}; lapse-rate {shift:+.1f} °C from {self.elevation_m:.0f} m",
        )


def _shift(values: Monthly, delta: float) -> Monthly:
    """Every monthly value plus `delta`."""
    return tuple(round(v + delta, 2) for v in values)  # type: ignore[return-value]


def _scale(values: Monthly, factor: float) -> Monthly:
    """Every monthly value times `factor`."""
    return tuple(round(v * factor, 2) for v in values)  # type: ignore[return-value]


NAGANO_CITY = Climate(
    name="Nagano",
    latitude=36.662,
    longitude=138.192,
    elevation_m=418.2,
    tmean=(-0.4, 0.4, 4.3, 10.6, 16.3, 20.4, 24.2, 25.2, 21.0, 14.4, 8.1, 2.4),
    tmax=(3.9, 5.4, 10.1, 17.1, 22.7, 26.0, 29.6, 31.0, 26.2, 19.6, 13.1, 6.4),
    tmin=(-4.2, -3.9, -1.0, 4.3, 10.2, 15.5, 19.9, 20.6, 16.6, 9.8, 3.4, -1.3),
    precip_mm=(54.7, 49.4, 60.5, 56.4, 69.4, 106.5, 137.4, 111.8, 125.8, 100.2, 44.4, 50.4),
    wet_days=(9.8, 8.9, 9.6, 8.8, 9.5, 11.6, 13.0, 9.6, 10.8, 8.8, 7.6, 9.0),
    rh_percent=(78.0, 75.0, 68.0, 62.0, 64.0, 72.0, 76.0, 75.0, 78.0, 79.0, 78.0, 79.0),
    dry_cloud=(0.50, 0.45, 0.45, 0.50, 0.52, 0.62, 0.60, 0.52, 0.58, 0.50, 0.48, 0.50),
    wind_ms=(1.9, 2.0, 2.3, 2.5, 2.3, 2.0, 1.9, 2.0, 1.8, 1.7, 1.7, 1.8),
    # Valley winds along the Zenkoji basin: north-easterly in the cold season, south-west in summer.
    wind_from_deg=(45.0, 45.0, 45.0, 225.0, 225.0, 225.0, 225.0, 225.0, 200.0, 45.0, 45.0, 45.0),
    typhoons_per_year=0.9,
    source=JMA_NORMALS_CITATION,
)

KAWAKAMI = replace(
    NAGANO_CITY.at_elevation("Kawakami", 1185.0, latitude=35.93, longitude=138.58),
    precip_mm=(38.0, 40.0, 85.0, 92.0, 115.0, 150.0, 185.0, 160.0, 215.0, 160.0, 62.0, 38.0),
    wet_days=(5.5, 6.0, 9.0, 9.5, 10.5, 13.5, 14.5, 11.5, 12.5, 9.5, 6.5, 5.0),
    rh_percent=(70.0, 68.0, 66.0, 64.0, 70.0, 80.0, 84.0, 84.0, 85.0, 82.0, 77.0, 72.0),
    dry_cloud=(0.35, 0.35, 0.45, 0.50, 0.55, 0.65, 0.65, 0.58, 0.60, 0.50, 0.40, 0.33),
    wind_from_deg=(
        290.0,
        290.0,
        290.0,
        290.0,
        180.0,
        160.0,
        160.0,
        160.0,
        160.0,
        290.0,
        290.0,
        290.0,
    ),
    typhoons_per_year=1.3,
    source=(
        f"{JMA_NORMALS_CITATION}; lapse-rate -4.6 °C from 418 m; "
        "precipitation, wet days, humidity and cloud illustrative (Pacific-side highland)"
    ),
)


@functools.lru_cache(maxsize=256)
def annual_cycle(monthly: tuple[float, ...]) -> npt.NDArray[np.float64]:
    """A smooth 365-day cycle through monthly values whose monthly means equal those values."""
    mids = _MONTH_START[:-1] + _MONTH_LEN / 2.0
    target = np.asarray(monthly, dtype=np.float64)
    nodes = target.copy()
    days = np.arange(365) + 0.5
    for _ in range(10):
        curve = np.interp(days, mids, nodes, period=365)
        nodes += target - np.add.reduceat(curve, _MONTH_START[:-1]) / _MONTH_LEN
    curve = np.interp(days, mids, nodes, period=365)
    curve.flags.writeable = False
    return curve


def climatology(monthly: tuple[float, ...], doy: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Daily values of a monthly normal on the given days of year."""
    return annual_cycle(tuple(monthly))[np.minimum(doy, 365) - 1]

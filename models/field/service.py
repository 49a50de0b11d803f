"""Field analytics served per registered farm field: thermal time, growth stage, chill, VPD, scab.

`FieldAnalytics` reads a tenant's field from the asset registry, the field's planting dates
(registry and planting work records, as the harvest forecasts do), its daily minimum and
maximum temperatures (`storage.weather`) and its hourly temperature, humidity and leaf wetness
(`models.field.weather`), and computes each part with the pure functions of this package.

Seasons (docs/field.md, "Serving"):
- apple and grape (perennial): thermal time and stages from 1 March of the as-of year, the start
  of both stage tables (Clements 2019 for apple; Parker et al. 2011, day 60, for grape);
- rice and lettuce (annual): from the newest planting on or before the as-of day within 400
  days; rice stages count from heading, which is given by the caller (no record holds it);
- chill for apple and grape: from 1 October to 31 March (our convention for Nagano, stated in
  the docs), through the as-of day when it falls inside that season.

A part without the sensors or season it needs is absent with a stated reason; only a site or
field that is not a registered field of the tenant is "not found".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from core.cache import TtlCache
from core.errors import NotFoundError
from core.time import MS_PER_DAY, local_today
from models.field.parts import (
    ChillPart,
    GddPart,
    ScabPart,
    StagePart,
    VpdPart,
    WetnessPart,
    chill_part,
    gdd_part,
    scab_part,
    stage_part,
    vpd_part,
    wetness_part,
)
from models.field.stages import STAGE_TABLES
from models.field.thermal import CROP_THERMAL
from models.field.weather import Hourly, HourlyWeather, read_hourly
from storage.assets import FieldAsset, read_assets
from storage.errors import QueryError
from storage.protocol import ReadingStore
from storage.readings import from_store
from storage.records import planting_dates
from storage.weather import Daily, daily_weather

PERENNIAL = frozenset({"apple", "grape"})
CHILL_CROPS = PERENNIAL
# Thermal time of the perennial tables starts on 1 March (stages.py).
SEASON_MONTH, SEASON_DAY = 3, 1
# Chill season, our convention for Nagano (docs/field.md): 1 October to 31 March.
CHILL_START_MONTH = 10
CHILL_END_MONTH, CHILL_END_DAY = 3, 31
# An annual's planting older than this is not its current season (models.harvest's limit).
MAX_SEASON_DAYS = 400
# VPD and wetness of a field without a current season: the last 30 days.
RECENT_DAYS = 30
# Dashboards poll; yesterday's weather changes only with late readings.
ANALYTICS_TTL_S = 60.0
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
FloatArray = npt.NDArray[np.float64]


class Part(StrEnum):
    """The parts of a field's analytics, each present or absent with a reason."""

    GDD = "gdd"
    STAGE = "stage"
    CHILL = "chill"
    VPD = "vpd"
    WETNESS = "wetness"
    SCAB = "scab"


@dataclass(frozen=True, slots=True)
class FieldAnalysis:
    """One field's analytics as of a day; `absent` says why each missing part is missing."""

    asset: FieldAsset
    as_of: dt.date
    season_start: dt.date | None
    gdd: GddPart | None = None
    stage: StagePart | None = None
    chill: ChillPart | None = None
    vpd: VpdPart | None = None
    wetness: WetnessPart | None = None
    scab: ScabPart | None = None
    absent: dict[Part, str] = field(default_factory=dict)

    @property
    def crop(self) -> str:
        """The field's crop, normalised."""
        return self.asset.crop.strip().lower()


def chill_season(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The chill season that as-of falls in or last ended before it, clipped to as-of."""
    year = as_of.year if as_of.month >= CHILL_START_MONTH else as_of.year - 1
    start = dt.date(year, CHILL_START_MONTH, 1)
    end = dt.date(year + 1, CHILL_END_MONTH, CHILL_END_DAY)
    return start, min(end, as_of)


class FieldAnalytics:
    """Analytics of a tenant's registered farm fields from the readings in one store."""

    def __init__(
        self,
        store: ReadingStore,
        *,
        today: Callable[[], dt.date] = local_today,
        ttl_s: float = ANALYTICS_TTL_S,
    ) -> None:
        """Read from `store`; `today` is the local date; answers are kept `ttl_s` seconds."""
        self._store = store
        self._today = today
        self._answers: TtlCache[FieldAnalysis] = TtlCache(ttl_s)

    def default_as_of(self) -> dt.date:
        """Yesterday in Asia/Tokyo: the last day whose weather is complete."""
        return self._today() - dt.timedelta(days=1)

    def analyse(
        self,
        tenant: str,
        site: str,
        *,
        field_id: str | None = None,
        as_of: dt.date | None = None,
        heading: dt.date | None = None,
    ) -> FieldAnalysis:
        """The analytics of the field at `site` (the given field, or the site's first).

        Raises NotFoundError when the tenant has no such field, QueryError for a date out of
        range or a heading after the as-of day.
        """
        day = as_of or self.default_as_of()
        for what, value in (("as_of", day), ("heading", heading)):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise QueryError(f"{what} must be between {EARLIEST} and {LATEST}")
        if heading is not None and heading > day:
            raise QueryError(f"heading {heading} is after as_of {day}")
        registry = from_store(lambda: read_assets(self._store, tenant, [site]), None)
        assets = [] if registry is None else registry.fields.get(site, [])
        assets = sorted(assets, key=lambda a: a.asset)
        if field_id is not None:
            assets = [a for a in assets if a.asset == field_id]
        if not assets:
            what = f"field {field_id!r}" if field_id else "farm field"
            raise NotFoundError(f"no {what} registered at site {site!r}")
        asset = assets[0]
        key = (tenant, asset, day, heading)
        return self._answers.get(key, lambda: self._compute(tenant, asset, day, heading))

    def _plantings(self, tenant: str, asset: FieldAsset) -> list[dt.date]:
        """The field's planting dates: the registry's and those of its planting records."""
        return planting_dates(self._store, tenant, asset)

    def _season(self, tenant: str, asset: FieldAsset, as_of: dt.date) -> tuple[dt.date, str]:
        """The season's first day and the rule that gave it; ValueError saying why if none."""
        crop = asset.crop.strip().lower()
        if crop in PERENNIAL:
            start = dt.date(as_of.year, SEASON_MONTH, SEASON_DAY)
            if as_of < start:
                raise ValueError(f"the {crop} season's thermal time starts on {start}")
            return start, "1 March (perennial crop)"
        plantings = [p for p in self._plantings(tenant, asset) if p <= as_of]
        if not plantings or (as_of - plantings[-1]).days > MAX_SEASON_DAYS:
            raise ValueError(f"no planting on or before {as_of} within {MAX_SEASON_DAYS} days")
        return plantings[-1], "planting date"

    def _compute(
        self, tenant: str, asset: FieldAsset, as_of: dt.date, heading: dt.date | None
    ) -> FieldAnalysis:
        """Every part of one field's analytics."""
        crop = asset.crop.strip().lower()
        absent: dict[Part, str] = {}
        try:
            start, rule = self._season(tenant, asset, as_of)
        except ValueError as exc:
            start, rule = None, ""
            absent[Part.GDD] = absent[Part.STAGE] = str(exc)
        chill_start, chill_end = chill_season(as_of)
        window = (start or as_of - dt.timedelta(days=RECENT_DAYS - 1), as_of)
        first = min(window[0], chill_start) if crop in CHILL_CROPS else window[0]
        device = asset.device or None
        hourly = from_store(
            lambda: read_hourly(
                self._store, tenant, site=asset.site, device=device, first=first, last=as_of
            ),
            None,
        )
        gdd = stage = None
        if start is not None:
            gdd, stage = self._thermal(
                tenant, asset, start=start, rule=rule, as_of=as_of, heading=heading, absent=absent
            )
        chill = _chill(crop, hourly, first=first, start=chill_start, end=chill_end, absent=absent)
        vpd, wetness, scab = _hourly_parts(
            crop, hourly, first=first, window=window, in_season=start is not None, absent=absent
        )
        return FieldAnalysis(asset, as_of, start, gdd, stage, chill, vpd, wetness, scab, absent)

    def _thermal(
        self,
        tenant: str,
        asset: FieldAsset,
        *,
        start: dt.date,
        rule: str,
        as_of: dt.date,
        heading: dt.date | None,
        absent: dict[Part, str],
    ) -> tuple[GddPart | None, StagePart | None]:
        """Degree days from the season's start and the stage on the crop's table."""
        crop = asset.crop.strip().lower()
        thermal = CROP_THERMAL.get(crop)
        table = STAGE_TABLES.get(crop)
        found = from_store(
            lambda: daily_weather(
                self._store, tenant, {asset.site: asset.device or None}, start, as_of
            ),
            {},
        )
        daily = found.get(asset.site)
        if daily is None:
            reason = f"no air temperature readings at this field since {start}"
            absent[Part.GDD] = absent[Part.STAGE] = reason
            return None, None
        tmin, tmax = daily.column(Daily.TMIN), daily.column(Daily.TMAX)
        gdd = None
        if thermal is None:
            absent[Part.GDD] = f"no degree-day thresholds for crop {crop!r}"
        else:
            gdd = gdd_part(tmin, tmax, first=start, thermal=thermal, start_rule=rule)
        if table is None:
            absent[Part.STAGE] = f"no stage table for crop {crop!r}"
            return gdd, None
        stage_start, stage_rule = start, rule
        if crop == "rice":
            if heading is None or heading < start:
                absent[Part.STAGE] = (
                    "rice stages count from heading (出穂期); give its date as `heading`"
                )
                return gdd, None
            stage_start, stage_rule = heading, "heading date (given)"
        offset = (stage_start - start).days
        stage = stage_part(
            tmin[offset:], tmax[offset:], first=stage_start, table=table, start_rule=stage_rule
        )
        return gdd, stage


def _chill(
    crop: str,
    hourly: HourlyWeather | None,
    *,
    first: dt.date,
    start: dt.date,
    end: dt.date,
    absent: dict[Part, str],
) -> ChillPart | None:
    """Chill of the season for apple and grape from hourly temperatures."""
    if crop not in CHILL_CROPS:
        absent[Part.CHILL] = "chill is computed for apple and grape only"
        return None
    temps = _slice(hourly, Hourly.TEMPERATURE, first, start, end)
    if temps is None:
        absent[Part.CHILL] = f"no air temperature readings between {start} and {end}"
        return None
    return chill_part(temps, first=start, last=end, start_rule="1 October (convention)")


def _slice(
    hourly: HourlyWeather | None, variable: Hourly, first: dt.date, start: dt.date, end: dt.date
) -> FloatArray | None:
    """The hours of local days [start, end] of `variable`, None without any reading."""
    if hourly is None:
        return None
    a = (start - first).days * 24
    b = ((end - first).days + 1) * 24
    values = hourly.values[variable][a:b]
    return values if values.size and bool(np.isfinite(values).any()) else None


def _hourly_parts(
    crop: str,
    hourly: HourlyWeather | None,
    *,
    first: dt.date,
    window: tuple[dt.date, dt.date],
    in_season: bool,
    absent: dict[Part, str],
) -> tuple[VpdPart | None, WetnessPart | None, ScabPart | None]:
    """VPD, wet hours and (apple) scab events over the season or the recent days."""
    start, end = window
    temps = _slice(hourly, Hourly.TEMPERATURE, first, start, end)
    humidity = _slice(hourly, Hourly.HUMIDITY, first, start, end)
    wetness = _slice(hourly, Hourly.LEAF_WETNESS, first, start, end)
    since = f"since {start}"
    vpd = wet = scab = None
    if temps is None or humidity is None:
        missing = "air temperature" if temps is None else "relative humidity"
        absent[Part.VPD] = f"no {missing} readings at this field {since}"
    else:
        vpd = vpd_part(temps, humidity, first=start, last=end)
    if wetness is None:
        absent[Part.WETNESS] = f"no leaf wetness sensor readings at this field {since}"
    else:
        wet = wetness_part(wetness, first=start, last=end)
    if crop != "apple":
        absent[Part.SCAB] = "apple scab is computed for apple only"
    elif not in_season:
        # The Mills table is for the spring ascospore season; winter wetness is no infection.
        absent[Part.SCAB] = absent[Part.GDD]
    elif wetness is None or temps is None:
        missing = "leaf wetness" if wetness is None else "air temperature"
        absent[Part.SCAB] = f"no {missing} readings at this field {since}"
    else:
        assert hourly is not None
        start_ms = hourly.start_ms + (start - first).days * MS_PER_DAY
        scab = scab_part(wetness, temps, start_ms=start_ms, first=start, last=end)
    return vpd, wet, scab

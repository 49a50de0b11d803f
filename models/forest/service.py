"""Forest rotation serving: each registered stand's growth curve and its Faustmann rotation.

A stand's growth curve is a Chapman–Richards fit (`models.forest.growth.fit_growth`) to two
kinds of observation:

- its inventory (registry: species, age, volume and mean diameter on `age_on`) placed on the
  regional yield-table curve of its species, scaled through the inventory volume (its site
  class): the stand's past as the yield table describes it, one point per year of age;
- its dendrometers since `age_on`: 30-day mean stem radius, computed in the store, turned into
  stand volume through V ∝ D^2.5 (V = V0 (1 + ΔR / R0)^2.5 with R0 half the mean diameter).

Both kinds of point count alike in the least-squares fit, so a few years of dendrometer data
bend the yield table's shape toward the stand's own growth, and a longer record more so.

Work records correct it (`models.forest.records`): an inventory record newer than the
registry's re-anchors the stand (its age and volume on that day), and thinnings and fellings
since the anchor lower the standing volume from their day on (`volume_now`); the curve itself
stays what the site grows, on which the rotation is planned.

The rotation is `models.forest.growth.plan_rotation` on that curve with the caller's timber
price, harvest and planting costs and discount rate (defaults per species below). Ages become
calendar years from the inventory date; "now" is the newest dendrometer reading or recorded
removal (or the inventory date).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from core.cache import TtlCache
from core.errors import InvalidRequestError
from core.time import JST, MS_PER_DAY
from edge.protocol import SensorKind
from models.errors import ModelError
from models.forest.growth import (
    MAX_AGE,
    Economics,
    ForestModelError,
    GrowthCurve,
    RotationPlan,
    fit_growth,
    lev,
    plan_rotation,
)
from models.forest.records import VOLUME_KINDS, Removal, anchored, removals, standing_share
from models.forest.species import SPECIES
from storage.assets import StandAsset
from storage.series import AssetReader, FloatArray, Series

DAYS_PER_YEAR = 365.2425
PERIOD_DAYS = 30
MIN_TABLE_POINTS = 8
MIN_TABLE_SPAN_YEARS = 10.0
# Stem radius in µm per cm of diameter at breast height.
UM_PER_CM_DIAMETER = 5_000.0
# Stand volume grows about as the 2.5th power of the mean diameter (height grows with it).
VOLUME_DIAMETER_EXPONENT = 2.5

# The regional yield-table curves of the species table (m³/ha by age, medium site).
YIELD_TABLES: dict[str, GrowthCurve] = {
    species.value: traits.yield_table for species, traits in SPECIES.items()
}
# Illustrative defaults in JPY: log prices at the mill (per m³); clear-cut and extraction cost
# and planting with early weeding per ha, net of the usual planting subsidies; real rate 2 %.
DEFAULT_ECONOMICS: dict[str, Economics] = {
    "larch": Economics(price=14_000.0, harvest_cost=1_500_000.0, planting_cost=1_000_000.0),
    "sugi": Economics(price=13_000.0, harvest_cost=1_800_000.0, planting_cost=1_200_000.0),
}


class RotationError(ModelError, InvalidRequestError):
    """A stand whose growth or rotation cannot be computed from what is known of it."""


@dataclass(frozen=True, slots=True)
class StandGrowth:
    """A stand's fitted growth curve, its age now and the observations behind the fit."""

    stand: StandAsset
    curve: GrowthCurve
    as_of_ms: int
    age_now: float
    ages: FloatArray
    volumes: FloatArray
    dendrometer_periods: int
    removals: tuple[Removal, ...] = ()

    @property
    def standing_share(self) -> float:
        """The share of the fitted curve still standing now, after recorded removals."""
        return standing_share(self.curve, self.removals, self.age_now)

    @property
    def volume_now(self) -> float:
        """Standing volume (m³/ha) now: the fitted curve less what was thinned or felled."""
        return self.standing_share * float(self.curve.volume(self.age_now))


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The Faustmann plan of a stand under given economics, in ages and calendar years."""

    growth: StandGrowth
    economics: Economics
    plan: RotationPlan
    harvest_year: int
    overdue: bool
    thinning_years: tuple[int, ...]
    curve_ages: FloatArray

    def growth_curve(self) -> list[tuple[float, float]]:
        """(age, m³/ha) on the fitted curve at whole ages."""
        volumes = self.growth.curve.volume(self.curve_ages)
        return list(zip(self.curve_ages.tolist(), volumes.tolist(), strict=True))

    def value_curve(self) -> list[tuple[float, float]]:
        """(rotation age, land expectation value per ha) at whole ages."""
        values = lev(self.growth.curve, self.economics, self.curve_ages)
        return list(zip(self.curve_ages.tolist(), values.tolist(), strict=True))


def inventory_start_ms(stand: StandAsset) -> int:
    """Midnight (JST) starting the inventory date `age_on`, in ms since the epoch."""
    try:
        day = dt.date.fromisoformat(stand.age_on)
    except ValueError as exc:
        raise RotationError(f"stand {stand.asset!r} has no valid inventory date") from exc
    return int(dt.datetime.combine(day, dt.time(), JST).timestamp() * 1000)


def economics_for(
    species: str,
    price: float | None = None,
    harvest_cost: float | None = None,
    planting_cost: float | None = None,
    discount_rate: float | None = None,
) -> Economics:
    """The species' default economics with any given parameter replacing its default."""
    base = DEFAULT_ECONOMICS.get(species)
    if base is None:
        raise RotationError(f"no default economics for species {species!r}")
    try:
        return Economics(
            price=base.price if price is None else price,
            harvest_cost=base.harvest_cost if harvest_cost is None else harvest_cost,
            planting_cost=base.planting_cost if planting_cost is None else planting_cost,
            rate=base.rate if discount_rate is None else discount_rate,
        )
    except ForestModelError as exc:
        raise RotationError(str(exc)) from exc


def observations(
    stand: StandAsset, dendrometers: dict[str, Series]
) -> tuple[FloatArray, FloatArray, int]:
    """Ages and volumes to fit: scaled yield-table points, then dendrometer-derived volumes."""
    table = YIELD_TABLES.get(stand.species)
    if table is None:
        raise RotationError(f"no yield table for species {stand.species!r}")
    age0 = float(stand.age_years)
    reference = float(table.volume(age0))
    v0 = reference if stand.volume_m3_ha is None else float(stand.volume_m3_ha)
    site_class = v0 / reference if reference > 0 else 1.0
    span = max(age0, MIN_TABLE_SPAN_YEARS)
    points = max(round(span), MIN_TABLE_POINTS)
    ages = np.linspace(span / points, span, points)
    volumes = site_class * table.volume(ages)
    if stand.dbh_cm is None or stand.dbh_cm <= 0 or not dendrometers:
        return ages, volumes, 0
    # Each dendrometer is zeroed at its first period: only growth since the inventory counts.
    deltas: dict[int, list[float]] = {}
    for series in dendrometers.values():
        if not len(series.ts_ms):
            continue
        for t, v in zip(
            series.ts_ms.tolist(), (series.values - series.values[0]).tolist(), strict=True
        ):
            deltas.setdefault(int(t), []).append(float(v))
    times = np.array(sorted(deltas), dtype=np.int64)
    growth = np.array([np.mean(deltas[int(t)]) for t in times])
    radius_um = stand.dbh_cm * UM_PER_CM_DIAMETER
    dendro_volumes = v0 * np.maximum(1.0 + growth / radius_um, 0.0) ** VOLUME_DIAMETER_EXPONENT
    mid_ms = times + PERIOD_DAYS * MS_PER_DAY // 2
    dendro_ages = age0 + (mid_ms - inventory_start_ms(stand)) / (DAYS_PER_YEAR * MS_PER_DAY)
    return (
        np.concatenate([ages, dendro_ages]),
        np.concatenate([volumes, dendro_volumes]),
        len(times),
    )


def fit_stand(
    stand: StandAsset,
    dendrometers: dict[str, Series],
    as_of_ms: int,
    taken: tuple[Removal, ...] = (),
) -> StandGrowth:
    """The stand's growth curve from its inventory and dendrometers, and its age at `as_of_ms`;
    `taken` are the removals since the inventory."""
    ages, volumes, periods = observations(stand, dendrometers)
    try:
        curve = fit_growth(ages, volumes)
    except ForestModelError as exc:
        raise RotationError(f"growth curve of stand {stand.asset!r}: {exc}") from exc
    start = inventory_start_ms(stand)
    age_now = stand.age_years + max(as_of_ms - start, 0) / (DAYS_PER_YEAR * MS_PER_DAY)
    return StandGrowth(stand, curve, max(as_of_ms, start), age_now, ages, volumes, periods, taken)


def _year_at(stand: StandAsset, age: float) -> int:
    """Calendar year (JST) in which the stand reaches `age`."""
    days = (age - stand.age_years) * DAYS_PER_YEAR
    return (dt.date.fromisoformat(stand.age_on) + dt.timedelta(days=days)).year


def recommend(growth: StandGrowth, economics: Economics) -> Recommendation:
    """The Faustmann rotation, harvest and thinning years of a stand under `economics`."""
    stand = growth.stand
    try:
        plan = plan_rotation(growth.curve, economics, current_age=math.floor(growth.age_now))
    except ForestModelError as exc:
        raise RotationError(str(exc)) from exc
    overdue = plan.rotation_age < growth.age_now
    harvest_year = _year_at(stand, max(plan.rotation_age, growth.age_now))
    thinnings = tuple(
        sorted({_year_at(stand, a) for a in plan.thinning_ages if a >= growth.age_now})
    )
    last = min(math.ceil(max(plan.rotation_age, growth.age_now) * 1.5), int(MAX_AGE) - 1)
    ages = np.arange(1.0, last + 1.0)
    return Recommendation(growth, economics, plan, harvest_year, overdue, thinnings, ages)


class ForestService:
    """Fits each stand's growth from the store; fits are cached for a few seconds."""

    def __init__(self, reader: AssetReader, ttl_s: float) -> None:
        """Read through `reader`; keep each stand's fit `ttl_s` seconds."""
        self._reader = reader
        self._fits: TtlCache[StandGrowth] = TtlCache(ttl_s)

    def stands(self, tenant: str) -> list[StandAsset]:
        """Every registered stand of the tenant, ordered by site and stand."""
        registry = self._reader.registry(tenant)
        found = [s for stands in registry.stands.values() for s in stands]
        return sorted(found, key=lambda s: (s.site, s.asset))

    def growth(self, tenant: str, stand: StandAsset) -> StandGrowth:
        """The stand's fitted growth (cached per tenant and stand)."""
        key = (tenant, stand)
        return self._fits.get(key, lambda: self._fit(tenant, stand))

    def _fit(self, tenant: str, stand: StandAsset) -> StandGrowth:
        inventory_start_ms(stand)  # a stand without a valid inventory date is refused first
        records = self._reader.records(tenant, stand.site, stand.asset, VOLUME_KINDS)
        stand = anchored(stand, records)
        taken = removals(stand, records)
        start = inventory_start_ms(stand)
        newest = self._reader.latest(tenant, (SensorKind.STEM_RADIUS,), (stand.site,))
        times = [v.time_ms for (_, device, _), v in newest.items() if device == stand.device]
        as_of = max([start, *times, *(r.at_ms for r in taken)])
        dendrometers: dict[str, Series] = {}
        if as_of > start:
            dendrometers = self._reader.period_means(
                tenant,
                SensorKind.STEM_RADIUS,
                stand.site,
                stand.device,
                start_ms=start,
                end_ms=as_of + 1,
                period_days=PERIOD_DAYS,
            )
        return fit_stand(stand, dendrometers, as_of, taken)

"""Forest stands: growth curves and Faustmann rotation recommendations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from core.errors import NotFoundError
from core.time import from_ms
from dashboard.deps import API_PREFIX, Forest, ReadKey, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, error_responses
from models.forest.service import (
    DEFAULT_ECONOMICS,
    ForestService,
    Recommendation,
    RotationError,
    StandGrowth,
    economics_for,
    recommend,
)
from storage.assets import StandAsset

router = APIRouter(prefix=API_PREFIX, tags=["forest"], responses=error_responses(*AUTHENTICATED))

_DEFAULTS = "; ".join(
    f"{species}: price {e.price:,.0f}, harvest_cost {e.harvest_cost:,.0f}, "
    f"planting_cost {e.planting_cost:,.0f}, discount_rate {e.rate}"
    for species, e in DEFAULT_ECONOMICS.items()
)


class AgeVolume(BaseModel):
    """A point of the growth curve."""

    age: float = Field(description="stand age (years)")
    volume: float = Field(description="stand volume (m³/ha)")


class AgeValue(BaseModel):
    """A point of the land-value curve."""

    age: float = Field(description="rotation length (years)")
    lev: float = Field(description="land expectation value of that rotation (JPY/ha)")


class Parameters(BaseModel):
    """The economics the rotation was computed with."""

    price: float = Field(description="timber price (JPY per m³)")
    harvest_cost: float = Field(description="harvest cost (JPY per ha)")
    planting_cost: float = Field(description="planting cost (JPY per ha)")
    discount_rate: float = Field(description="continuous real discount rate per year")


class CurveOut(BaseModel):
    """Fitted Chapman–Richards parameters: V(t) = a (1 - exp(-k t))^p."""

    a: float = Field(description="asymptotic volume (m³/ha)")
    k: float = Field(description="rate (1/year)")
    p: float = Field(description="shape")


class StandOut(BaseModel):
    """A registered stand with its growth now and its rotation at the species' defaults."""

    site: str
    stand: str
    device: str
    species: str
    area_ha: float
    age_years: float = Field(description="age at `as_of` (at the inventory date if no `as_of`)")
    as_of: dt.datetime | None = Field(
        description="newest dendrometer reading, or the inventory date"
    )
    volume_m3_ha: float | None = Field(description="volume at `as_of` on the fitted curve")
    rotation_age_years: float | None
    harvest_year: int | None
    thinning_years: list[int]
    unavailable: str | None = Field(description="why there is no recommendation, if none")


class RotationOut(BaseModel):
    """The Faustmann-optimal rotation of a stand, with its growth and land-value curves."""

    site: str
    stand: str
    device: str
    species: str
    age_years: float = Field(description="age at `as_of`")
    as_of: dt.datetime = Field(description="newest dendrometer reading, or the inventory date")
    volume_m3_ha: float = Field(description="volume at `as_of` on the fitted curve")
    rotation_age_years: float = Field(description="age that maximises the land value")
    lev: float = Field(description="land expectation value at that rotation (JPY/ha)")
    volume_at_rotation_m3_ha: float
    mai_culmination_age_years: float = Field(
        description="age of maximum mean annual increment (the undiscounted volume rotation)"
    )
    harvest_year: int = Field(description="calendar year the stand reaches the rotation age")
    overdue: bool = Field(description="the stand is already older than its rotation age")
    thinning_years: list[int] = Field(description="recommended thinnings still ahead")
    growth_curve: list[AgeVolume]
    value_curve: list[AgeValue]
    parameters: Parameters
    curve: CurveOut
    dendrometer_periods: int = Field(
        description="30-day dendrometer means in the fit (0: yield table and inventory only)"
    )


def _stand_out(forest: ForestService, tenant: str, stand: StandAsset) -> StandOut:
    """The stand with its growth and default rotation, or the reason one of them is missing."""
    growth: StandGrowth | None = None
    found: Recommendation | None = None
    reason = None
    try:
        growth = forest.growth(tenant, stand)
        found = recommend(growth, economics_for(stand.species))
    except RotationError as exc:
        reason = str(exc)
    return StandOut(
        site=stand.site,
        stand=stand.asset,
        device=stand.device,
        species=stand.species,
        area_ha=stand.area_ha,
        age_years=stand.age_years if growth is None else growth.age_now,
        as_of=None if growth is None else from_ms(growth.as_of_ms),
        volume_m3_ha=None if growth is None else growth.volume_now,
        rotation_age_years=None if found is None else found.plan.rotation_age,
        harvest_year=None if found is None else found.harvest_year,
        thinning_years=[] if found is None else list(found.thinning_years),
        unavailable=reason,
    )


@router.get(
    "/tenants/{tenant}/stands",
    response_model=list[StandOut],
    summary="Stands with growth and rotation at default economics",
)
def list_stands(
    tenant: TenantPath,
    key: ReadKey,
    forest: Forest,
    site: Annotated[str | None, Query(description="only the stands of this site")] = None,
) -> list[StandOut]:
    """Every stand the asset registry describes, with its rotation at its species' defaults."""
    if site is not None:
        site = valid_id(site, "site")
    stands = forest.stands(key.tenant)
    return [_stand_out(forest, key.tenant, s) for s in stands if site is None or s.site == site]


@router.get(
    "/tenants/{tenant}/stands/{site}/rotation",
    response_model=RotationOut,
    summary="Faustmann rotation of a stand",
)
def get_rotation(
    *,
    tenant: TenantPath,
    site: str,
    key: ReadKey,
    forest: Forest,
    stand: Annotated[
        str | None, Query(description="the stand id when the site has several; default: first")
    ] = None,
    price: Annotated[
        float | None,
        Query(gt=0, le=1_000_000, description=f"timber price, JPY/m³ (defaults: {_DEFAULTS})"),
    ] = None,
    harvest_cost: Annotated[
        float | None, Query(ge=0, le=1e9, description="harvest cost, JPY/ha")
    ] = None,
    planting_cost: Annotated[
        float | None, Query(ge=0, le=1e9, description="planting cost, JPY/ha")
    ] = None,
    discount_rate: Annotated[
        float | None,
        Query(ge=0.001, le=0.2, description="continuous real discount rate per year"),
    ] = None,
) -> RotationOut:
    """Growth curve fitted to the stand's inventory and dendrometers, and the rotation age that
    maximises the land expectation value (Faustmann), with harvest and thinning years.

    Parameters not given take the species' defaults.
    """
    site = valid_id(site, "site")
    at_site = [s for s in forest.stands(key.tenant) if s.site == site]
    if stand is not None:
        at_site = [s for s in at_site if s.asset == stand]
    if not at_site:
        raise NotFoundError(f"no stand at site {site!r}")
    chosen = at_site[0]
    growth = forest.growth(key.tenant, chosen)
    econ = economics_for(chosen.species, price, harvest_cost, planting_cost, discount_rate)
    found = recommend(growth, econ)
    plan = found.plan
    return RotationOut(
        site=chosen.site,
        stand=chosen.asset,
        device=chosen.device,
        species=chosen.species,
        age_years=growth.age_now,
        as_of=from_ms(growth.as_of_ms),
        volume_m3_ha=growth.volume_now,
        rotation_age_years=plan.rotation_age,
        lev=plan.lev,
        volume_at_rotation_m3_ha=plan.volume_at_rotation,
        mai_culmination_age_years=plan.mai_culmination_age,
        harvest_year=found.harvest_year,
        overdue=found.overdue,
        thinning_years=list(found.thinning_years),
        growth_curve=[AgeVolume(age=a, volume=v) for a, v in found.growth_curve()],
        value_curve=[AgeValue(age=a, lev=v) for a, v in found.value_curve()],
        parameters=Parameters(
            price=econ.price,
            harvest_cost=econ.harvest_cost,
            planting_cost=econ.planting_cost,
            discount_rate=econ.rate,
        ),
        curve=CurveOut(a=growth.curve.a, k=growth.curve.k, p=growth.curve.p),
        dendrometer_periods=growth.dendrometer_periods,
    )

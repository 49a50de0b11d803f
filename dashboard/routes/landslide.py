"""Landslide risk of a tenant's sites: current levels, and each site's thresholds."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from core.errors import InvalidInputError, NotFoundError
from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    AlertsAdmin,
    Context,
    ReadKey,
    TenantPath,
    changed_by,
    valid_id,
)
from dashboard.schemas import AUTHENTICATED, error_responses
from models.landslide.errors import LandslideError
from models.landslide.levels import CriticalLine, Level, Thresholds
from models.landslide.service import SiteLevel
from models.landslide.settings import SiteThresholds, site_thresholds, write_thresholds

router = APIRouter(
    prefix=API_PREFIX, tags=["landslide risk"], responses=error_responses(*AUTHENTICATED)
)

SitePath = Annotated[str, Path(description="the site's id")]
LevelName = Literal["none", "caution", "warning", "danger"]
_LIMITS = ("caution_swi_mm", "caution_r60_mm", "warning_swi_mm", "warning_r60_mm")
_LIMITS += ("danger_swi_mm", "danger_r60_mm")
Limit = Annotated[float | None, Field(ge=0, le=10_000, allow_inf_nan=False)]


class LevelOut(BaseModel):
    """A site's landslide level at the end of the last complete 10-minute step."""

    site: str
    level: LevelName
    level_ja: str = Field(description="the level's Japanese name (なし, 注意, 警戒, 危険)")
    swi_mm: float = Field(description="Soil Water Index (土壌雨量指数), mm")
    r60_mm: float = Field(description="rain of the last 60 minutes, mm")
    at: dt.datetime = Field(description="end of the step the level is for")
    device: str = Field(description="the rain gauge's device")
    sensor: str = Field(description="the rain gauge's sensor")
    last_reading_at: dt.datetime = Field(description="the gauge's newest reading")
    default_thresholds: bool = Field(description="true while no thresholds are set for it")


class ThresholdsIn(BaseModel):
    """Thresholds in mm: a level is reached when its SWI or R60 threshold is (null: off)."""

    caution_swi_mm: Limit = None
    caution_r60_mm: Limit = None
    warning_swi_mm: Limit = None
    warning_r60_mm: Limit = None
    danger_swi_mm: Limit = None
    danger_r60_mm: Limit = None
    critical_line: list[Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]] | None = (
        Field(
            default=None,
            min_length=4,
            max_length=4,
            description="a straight critical line through (SWI1, R60_1) and (SWI2, R60_2), mm",
        )
    )
    critical_line_level: Literal["caution", "warning", "danger"] = "danger"


class ThresholdsOut(ThresholdsIn):
    """The thresholds in force at a site, and whether they are the placeholder defaults."""

    site: str
    default: bool = Field(description="true: none set, the placeholder defaults apply")
    changed_at: dt.datetime | None
    changed_by: str | None


def level_out(level: SiteLevel) -> LevelOut:
    """A site's level as the API shows it."""
    return LevelOut(
        site=level.site,
        level=level.level.en,  # type: ignore[arg-type]
        level_ja=level.level.ja,
        swi_mm=round(level.swi_mm, 3),
        r60_mm=round(level.r60_mm, 3),
        at=from_ms(level.at_ms),
        device=level.device,
        sensor=level.sensor,
        last_reading_at=from_ms(level.last_reading_ms),
        default_thresholds=level.default_thresholds,
    )


def _out(current: SiteThresholds) -> ThresholdsOut:
    t = current.thresholds
    line = t.critical_line
    return ThresholdsOut(
        site=current.site,
        caution_swi_mm=t.caution_swi_mm,
        caution_r60_mm=t.caution_r60_mm,
        warning_swi_mm=t.warning_swi_mm,
        warning_r60_mm=t.warning_r60_mm,
        danger_swi_mm=t.danger_swi_mm,
        danger_r60_mm=t.danger_r60_mm,
        critical_line=None
        if line is None
        else [line.swi1_mm, line.r60_1_mm, line.swi2_mm, line.r60_2_mm],
        critical_line_level=t.critical_line_level.en,  # type: ignore[arg-type]
        default=current.default,
        changed_at=None if current.at_ms is None else from_ms(current.at_ms),
        changed_by=current.by,
    )


def _thresholds(body: ThresholdsIn) -> Thresholds:
    """The body as model thresholds; 422 (in both languages) when they are not valid."""
    try:
        line = None if body.critical_line is None else CriticalLine(*body.critical_line)
        thresholds = Thresholds(
            caution_swi_mm=body.caution_swi_mm,
            caution_r60_mm=body.caution_r60_mm,
            warning_swi_mm=body.warning_swi_mm,
            warning_r60_mm=body.warning_r60_mm,
            danger_swi_mm=body.danger_swi_mm,
            danger_r60_mm=body.danger_r60_mm,
            critical_line=line,
            critical_line_level=Level.parse(body.critical_line_level),
        )
    except LandslideError as exc:
        raise InvalidInputError(str(exc), "thresholds") from exc
    limits = [getattr(body, name) for name in _LIMITS]
    if line is None and all(v is None for v in limits):
        # A site with every criterion off would never be alerted: refused, not stored.
        raise InvalidInputError(
            "しきい値が一つもありません (既定値に戻すには DELETE) / no threshold given "
            "(DELETE returns the site to the defaults)",
            "thresholds",
        )
    return thresholds


def known_site(context: Context, tenant: str, site: str) -> str:
    """`site` if the tenant has readings or a registry entry there, else 404."""
    site = valid_id(site, "site")
    if site in context.reader.catalogue(tenant).sites():
        return site
    if site in context.registry.registry(tenant, [site]).sites:
        return site
    raise NotFoundError(f"no site {site!r}")


@router.get(
    "/tenants/{tenant}/landslide/levels",
    response_model=list[LevelOut],
    summary="Current landslide level of each site with a rain gauge",
)
def list_levels(tenant: TenantPath, key: ReadKey, context: Context) -> list[LevelOut]:
    """Each site's Soil Water Index, 60-minute rainfall and level, from its stored rain."""
    return [level_out(x) for x in context.landslide.levels(key.tenant)]


@router.get(
    "/tenants/{tenant}/sites/{site}/landslide/thresholds",
    response_model=ThresholdsOut,
    summary="A site's landslide thresholds",
)
def get_thresholds(
    tenant: TenantPath, site: SitePath, key: ReadKey, context: Context
) -> ThresholdsOut:
    """The thresholds in force (the placeholder defaults until an operator sets them)."""
    site = known_site(context, key.tenant, site)
    return _out(site_thresholds(context.notifications.store, key.tenant, site))


@router.put(
    "/tenants/{tenant}/sites/{site}/landslide/thresholds",
    response_model=ThresholdsOut,
    summary="Set a site's landslide thresholds",
)
def put_thresholds(
    tenant: TenantPath, site: SitePath, body: ThresholdsIn, key: AlertsAdmin, context: Context
) -> ThresholdsOut:
    """Store a new version of the site's thresholds (operators and admins); every earlier
    version stays in the store with who set it."""
    site = known_site(context, key.tenant, site)
    store = context.notifications.store
    write_thresholds(store, key.tenant, site, _thresholds(body), by=changed_by(key))
    return _out(site_thresholds(store, key.tenant, site))


@router.delete(
    "/tenants/{tenant}/sites/{site}/landslide/thresholds",
    status_code=204,
    summary="Return a site to the default landslide thresholds",
)
def reset_thresholds(
    tenant: TenantPath, site: SitePath, key: AlertsAdmin, context: Context
) -> Response:
    """Write a reset version: the placeholder defaults apply again (operators and admins)."""
    site = known_site(context, key.tenant, site)
    write_thresholds(context.notifications.store, key.tenant, site, None, by=changed_by(key))
    return Response(status_code=204)

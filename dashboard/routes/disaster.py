"""Disaster sharing across tenants: a site's opt-in, the prefecture's list, the public list.

A tenant's admin opts a site in; from then on its landslide level, the time it is for and where
the site is (registered coordinates and municipality, else its id and the tenant's) are shown to
prefecture keys and, without any key, at `/api/v1/public/disaster` and on the `/status` page.
Nothing else of a tenant is shown there: no readings (not even SWI or R60), no devices, stock
or records.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    Context,
    PrefectureKey,
    ReadKey,
    SharingAdmin,
    TenantPath,
    changed_by,
)
from dashboard.routes.landslide import known_site
from dashboard.schemas import AUTHENTICATED, error_responses
from models.landslide.board import SharedSite
from models.landslide.settings import read_sharing, write_sharing

router = APIRouter(
    prefix=API_PREFIX, tags=["disaster sharing"], responses=error_responses(*AUTHENTICATED)
)
public_router = APIRouter(prefix=API_PREFIX, tags=["disaster sharing"])

SitePath = Annotated[str, Path(description="the site's id")]
_LEVEL_JA = {"none": "なし", "caution": "注意", "warning": "警戒", "danger": "危険"}


class SharingIn(BaseModel):
    """Whether the site's landslide level is shared with the prefecture and the public."""

    shared: bool


class SharingOut(SharingIn):
    """A site's sharing setting."""

    site: str


class SharedSiteOut(BaseModel):
    """An opted-in site: its level and where it is; nothing of the tenant's business."""

    tenant: str = Field(description="the municipality's (tenant's) id")
    site: str
    municipality: str | None = Field(description="as registered, if it is")
    latitude: float | None = Field(description="as registered, if it is")
    longitude: float | None
    level: Literal["none", "caution", "warning", "danger"] | None = Field(
        description="null: no rain gauge reported in the last 14 days"
    )
    level_ja: str | None
    at: dt.datetime | None = Field(description="end of the 10-minute step the level is for")


def _shared_out(site: SharedSite) -> SharedSiteOut:
    level = None if site.level is None else site.level.en
    return SharedSiteOut(
        tenant=site.tenant,
        site=site.site,
        municipality=site.municipality or None,
        latitude=site.latitude,
        longitude=site.longitude,
        level=level,  # type: ignore[arg-type]
        level_ja=None if level is None else _LEVEL_JA[level],
        at=None if site.at_ms is None else from_ms(site.at_ms),
    )


@router.get(
    "/tenants/{tenant}/sites/{site}/disaster-sharing",
    response_model=SharingOut,
    summary="Whether a site shares its landslide level",
)
def get_sharing(tenant: TenantPath, site: SitePath, key: ReadKey, context: Context) -> SharingOut:
    """Off until an admin opts the site in."""
    site = known_site(context, key.tenant, site)
    shared = (key.tenant, site) in read_sharing(context.notifications.store, key.tenant)
    return SharingOut(site=site, shared=shared)


@router.put(
    "/tenants/{tenant}/sites/{site}/disaster-sharing",
    response_model=SharingOut,
    summary="Opt a site in to (or out of) disaster sharing",
)
def put_sharing(
    tenant: TenantPath, site: SitePath, body: SharingIn, key: SharingAdmin, context: Context
) -> SharingOut:
    """Share the site's landslide level with the prefecture and the public page, or stop
    (admins); each change is stored with who made it."""
    site = known_site(context, key.tenant, site)
    write_sharing(context.notifications.store, key.tenant, site, body.shared, by=changed_by(key))
    context.landslide.invalidate()
    return SharingOut(site=site, shared=body.shared)


@router.get(
    "/tenants/{tenant}/disaster/shared",
    response_model=list[SharedSiteOut],
    summary="Every tenant's shared sites and their landslide levels (prefecture keys)",
)
def list_shared(tenant: TenantPath, key: PrefectureKey, context: Context) -> list[SharedSiteOut]:
    """The opted-in sites of every tenant; `tenant` is the prefecture key's own."""
    return [_shared_out(s) for s in context.landslide.shared()]


@public_router.get(
    "/public/disaster",
    response_model=list[SharedSiteOut],
    summary="Shared sites and their landslide levels, without a key",
    responses=error_responses(429),
)
def public_disaster(request: Request, context: Context) -> list[SharedSiteOut]:
    """The same list as the prefecture's, for anyone; limited per client address."""
    address = request.client.host if request.client else ""
    context.limiter.take(f"public:{address}")
    return [_shared_out(s) for s in context.landslide.shared()]

"""Sites and devices of a tenant, with live status where the store knows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from core.errors import NotFoundError
from core.time import from_ms
from dashboard.deps import API_PREFIX, Context, ReadKey, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, DeviceOut, SensorOut, SiteOut, error_responses
from storage.assets import SiteAsset
from storage.readings import Catalogue, SeriesKey

_DEVICE_LIST = TypeAdapter(list[DeviceOut])

router = APIRouter(
    prefix=API_PREFIX, tags=["sites and devices"], responses=error_responses(*AUTHENTICATED)
)


def _device(catalogue: Catalogue, site: str, device: str, keys: list[SeriesKey]) -> DeviceOut:
    sensors = [
        SensorOut(
            sensor=k.sensor,
            kind=k.kind,
            unit=k.kind.unit.value,
            last_seen=from_ms(catalogue.last_seen[k]),
        )
        for k in keys
    ]
    newest = max((catalogue.last_seen[k] for k in keys), default=None)
    status = catalogue.status.get((site, device))
    return DeviceOut(
        site=site,
        device=device,
        last_seen=None if newest is None else from_ms(newest),
        online=None if status is None else status.online,
        spool_depth=None if status is None else status.spool_readings,
        dropped_readings=None if status is None else status.spool_dropped,
        status_at=None if status is None else from_ms(status.at_ms),
        sensors=sensors,
    )


def _registered(site: SiteAsset | None) -> dict[str, object]:
    if site is None:
        return {}
    return {
        "kind": site.kind.value,
        "name_ja": site.name_ja,
        "name_en": site.name_en,
        "municipality": site.municipality or None,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "altitude_m": site.altitude_m,
    }


@router.get("/tenants/{tenant}/sites", response_model=list[SiteOut], summary="List sites")
def list_sites(tenant: TenantPath, key: ReadKey, context: Context) -> list[SiteOut]:
    """Every site of the tenant, with readings or registered: devices, newest reading, where."""
    catalogue = context.reader.catalogue(key.tenant)
    registered = context.assets.registry(key.tenant).sites
    devices = catalogue.devices()
    out = []
    for site in sorted(set(catalogue.sites()) | set(registered)):
        of_site = [keys for (s, _), keys in devices.items() if s == site]
        newest = max((catalogue.last_seen[k] for keys in of_site for k in keys), default=None)
        last_seen = None if newest is None else from_ms(newest)
        extra = _registered(registered.get(site))
        out.append(SiteOut(site=site, devices=len(of_site), last_seen=last_seen, **extra))  # type: ignore[arg-type]
    return out


@router.get(
    "/tenants/{tenant}/devices",
    response_model=list[DeviceOut],
    summary="List devices with their latest status",
)
def list_devices(
    tenant: TenantPath,
    key: ReadKey,
    context: Context,
    site: Annotated[str | None, Query(description="only devices of this site")] = None,
) -> Response:
    """Every device (of one site, if given) with its sensors and when each last reported."""
    catalogue = context.reader.catalogue(key.tenant)
    if site is not None:
        site = valid_id(site, "site")
    # Encoding 500 devices costs more than answering from the cached catalogue, so the encoded
    # list is kept with the catalogue it came from and rebuilt when that is refreshed.
    # Only the whole list is kept: a client asking for made-up sites cannot grow the memo.
    body = catalogue.memo.get("devices") if site is None else None
    if body is None:
        devices = [_device(catalogue, s, d, k) for (s, d), k in catalogue.devices(site).items()]
        body = _DEVICE_LIST.dump_json(devices)
        if site is None:
            catalogue.memo["devices"] = body
    return Response(body, media_type="application/json")


@router.get(
    "/tenants/{tenant}/sites/{site}/devices/{device}",
    response_model=DeviceOut,
    summary="One device",
)
def get_device(
    tenant: TenantPath, site: str, device: str, key: ReadKey, context: Context
) -> DeviceOut:
    """A device with its sensors and latest status."""
    site, device = valid_id(site, "site"), valid_id(device, "device")
    catalogue = context.reader.catalogue(key.tenant)
    keys = catalogue.devices(site).get((site, device))
    if keys is None:
        raise NotFoundError(f"no device {device!r} at site {site!r}")
    return _device(catalogue, site, device, keys)

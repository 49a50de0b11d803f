"""Sites and devices of a tenant, with live status where the store knows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from core.errors import NotFoundError
from core.time import from_ms
from dashboard.deps import API_PREFIX, Context, ReadKey, Registry, TenantPath, valid_id
from dashboard.schemas import AUTHENTICATED, DeviceOut, SensorOut, SiteOut, error_responses
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


@router.get("/tenants/{tenant}/sites", response_model=list[SiteOut], summary="List sites")
def list_sites(
    tenant: TenantPath, key: ReadKey, context: Context, registry: Registry
) -> list[SiteOut]:
    """Every site with readings or in the registry: device count, newest reading, description."""
    catalogue = context.reader.catalogue(key.tenant)
    devices = catalogue.devices()
    described = registry.registry(key.tenant).sites
    out = []
    for site in sorted(set(catalogue.sites()) | set(described)):
        of_site = [keys for (s, _), keys in devices.items() if s == site]
        newest = max((catalogue.last_seen[k] for keys in of_site for k in keys), default=None)
        last_seen = None if newest is None else from_ms(newest)
        entry = described.get(site)
        extra = (
            {}
            if entry is None
            else {
                "registered": True,
                "kind": entry.kind,
                "name_ja": entry.name_ja,
                "name_en": entry.name_en,
                "municipality": entry.municipality,
                "latitude": entry.latitude,
                "longitude": entry.longitude,
                "altitude_m": entry.altitude_m,
            }
        )
        out.append(SiteOut(site=site, devices=len(of_site), last_seen=last_seen, **extra))
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

"""The asset registry: sites, farm fields, forest stands and factory bins (operators write)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from core.errors import ConflictError, NotFoundError
from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    AssetsOperator,
    ReadKey,
    Registry,
    TenantPath,
    changed_by,
    valid_id,
)
from dashboard.schemas import (
    AUTHENTICATED,
    AttachmentOut,
    BinChange,
    BinEntry,
    BinIn,
    FieldChange,
    FieldEntry,
    FieldIn,
    HistoryOut,
    RegistryOut,
    SiteChange,
    SiteEntry,
    SiteIn,
    StandChange,
    StandEntry,
    StandIn,
    VersionOut,
    error_responses,
    invalid_responses,
)
from models.sites.service import RegistryInvalid, RegistryService
from storage.assets import Asset, BinAsset, FieldAsset, SiteAsset, StandAsset, asset_kind

router = APIRouter(
    prefix=API_PREFIX,
    tags=["asset registry"],
    responses={**error_responses(*AUTHENTICATED), **invalid_responses()},
)
_WRITE = {**error_responses(409), **invalid_responses()}

_TUPLES = ("plantings", "expected_harvests", "sensors")


def _values(asset: Asset) -> dict[str, Any]:
    """A registry entry's fields as the wire has them (lists for tuples)."""
    values = asdict(asset)
    for name in _TUPLES:
        if name in values:
            values[name] = list(values[name])
    return values


def _entry(asset: Asset) -> SiteEntry | FieldEntry | StandEntry | BinEntry:
    """The wire form of a registry entry."""
    values = _values(asset)
    if isinstance(asset, SiteAsset):
        return SiteEntry(**values)
    if isinstance(asset, FieldAsset):
        return FieldEntry(**values)
    if isinstance(asset, StandAsset):
        return StandEntry(**values)
    return BinEntry(**values)


def _asset(cls: type[Any], site: str, asset: str | None, body: Any) -> Any:
    """A registry entry from a body, with the path's site (and id)."""
    values = body.model_dump()
    for name in _TUPLES:
        if name in values:
            values[name] = tuple(values[name])
    values["site"] = site
    if asset is not None:
        values["asset"] = asset
    return cls(**values)


def _exists(registry: RegistryService, tenant: str, site: str, asset: str) -> bool:
    try:
        registry.find(tenant, site, asset)
    except NotFoundError:
        return False
    return True


def _create(registry: RegistryService, tenant: str, entry: Asset, by: str) -> Asset:
    # Checked before anything is looked up by the body's ids.
    errors = registry.check(tenant, [entry])
    if errors:
        raise RegistryInvalid(errors)
    if _exists(registry, tenant, entry.site, entry.asset):
        raise ConflictError(f"site {entry.site!r} already has {entry.asset!r}; change it with PUT")
    return registry.save(tenant, [entry], by=by)[0]


def _update(registry: RegistryService, tenant: str, entry: Asset, by: str) -> Asset:
    held = registry.find(tenant, entry.site, entry.asset)
    if asset_kind(held) is not asset_kind(entry):
        raise NotFoundError(f"site {entry.site!r} has no {asset_kind(entry).value} {entry.asset!r}")
    return registry.save(tenant, [entry], by=by)[0]


@router.get("/tenants/{tenant}/registry", response_model=RegistryOut, summary="The registry")
def get_registry(
    tenant: TenantPath,
    key: ReadKey,
    registry: Registry,
    site: Annotated[str | None, Query(description="only the entries of this site")] = None,
) -> RegistryOut:
    """Every site, field, stand and bin in force (of one site, if given)."""
    sites = [valid_id(site, "site")] if site is not None else []
    found = registry.registry(key.tenant, sites)
    return RegistryOut(
        sites=[SiteEntry(**asdict(found.sites[s])) for s in sorted(found.sites)],
        fields=[FieldEntry(**_values(f)) for s in sorted(found.fields) for f in found.fields[s]],
        stands=[StandEntry(**_values(f)) for s in sorted(found.stands) for f in found.stands[s]],
        bins=[BinEntry(**_values(f)) for s in sorted(found.bins) for f in found.bins[s]],
    )


@router.post(
    "/tenants/{tenant}/registry/sites",
    response_model=SiteEntry,
    status_code=status.HTTP_201_CREATED,
    responses=_WRITE,
    summary="Register a site",
)
def create_site(tenant: TenantPath, body: SiteIn, key: AssetsOperator, registry: Registry) -> Any:
    """A new site: what it is (farm, forest, factory), its names and where it is."""
    entry = SiteAsset(**body.model_dump())
    return _entry(_create(registry, key.tenant, entry, changed_by(key)))


@router.put(
    "/tenants/{tenant}/registry/sites/{site}",
    response_model=SiteEntry,
    responses=_WRITE,
    summary="Change a site",
)
def update_site(
    tenant: TenantPath, site: str, body: SiteChange, key: AssetsOperator, registry: Registry
) -> Any:
    """A new version of a registered site; the earlier ones stay in its history."""
    entry = SiteAsset(site=valid_id(site, "site"), **body.model_dump())
    return _entry(_update(registry, key.tenant, entry, changed_by(key)))


def _routes(
    noun: str,
    cls: type[Any],
    body_in: type[Any],
    body_change: type[Any],
    entry_out: type[Any],
) -> None:
    """POST, PUT and DELETE of one kind of entry under its site."""
    plural = f"{noun}s"

    def create(
        tenant: TenantPath, site: str, body: Any, key: AssetsOperator, registry: Registry
    ) -> Any:
        entry = _asset(cls, valid_id(site, "site"), None, body)
        return _entry(_create(registry, key.tenant, entry, changed_by(key)))

    def update(
        tenant: TenantPath,
        site: str,
        asset: str,
        *,
        body: Any,
        key: AssetsOperator,
        registry: Registry,
    ) -> Any:
        entry = _asset(cls, valid_id(site, "site"), valid_id(asset, noun), body)
        return _entry(_update(registry, key.tenant, entry, changed_by(key)))

    def retire(
        tenant: TenantPath, site: str, asset: str, key: AssetsOperator, registry: Registry
    ) -> Any:
        site, asset = valid_id(site, "site"), valid_id(asset, noun)
        held = registry.find(key.tenant, site, asset)
        if not isinstance(held, cls):
            raise NotFoundError(f"site {site!r} has no {noun} {asset!r}")
        return _entry(registry.retire(key.tenant, site, asset, by=changed_by(key)))

    create.__annotations__["body"] = body_in
    update.__annotations__["body"] = body_change
    create.__doc__ = f"A new {noun} of a registered site; a device of that site may measure it."
    update.__doc__ = f"A new version of a {noun} (a device moved keeps its history)."
    retire.__doc__ = f"Retire a {noun}: it leaves the registry and keeps its history."
    base = f"/tenants/{{tenant}}/registry/sites/{{site}}/{plural}"
    for func, name in ((create, "create"), (update, "update"), (retire, "retire")):
        func.__name__ = f"{name}_{noun}"
    router.post(
        base,
        response_model=entry_out,
        status_code=status.HTTP_201_CREATED,
        responses=_WRITE,
        summary=f"Register a {noun}",
    )(create)
    router.put(
        f"{base}/{{asset}}", response_model=entry_out, responses=_WRITE, summary=f"Change a {noun}"
    )(update)
    router.delete(
        f"{base}/{{asset}}", response_model=entry_out, responses=_WRITE, summary=f"Retire a {noun}"
    )(retire)


_routes("field", FieldAsset, FieldIn, FieldChange, FieldEntry)
_routes("stand", StandAsset, StandIn, StandChange, StandEntry)
_routes("bin", BinAsset, BinIn, BinChange, BinEntry)


def _version_out(at_ms: int, by: str, change: Any, asset: Asset) -> VersionOut:
    return VersionOut(
        at=from_ms(at_ms), by=by, change=change, kind=asset_kind(asset), entry=_entry(asset)
    )


@router.get(
    "/tenants/{tenant}/registry/sites/{site}/assets/{asset}/history",
    response_model=HistoryOut,
    summary="Every version of an entry",
)
def entry_history(
    tenant: TenantPath, site: str, asset: str, key: ReadKey, registry: Registry
) -> HistoryOut:
    """Who changed the entry when, and which device measured it when (`_site`: the site)."""
    site, asset = valid_id(site, "site"), valid_id(asset, "asset")
    versions, attached = registry.history(key.tenant, site, asset)
    return HistoryOut(
        versions=[_version_out(v.at_ms, v.by, v.change, v.asset) for v in versions],
        attachments=[
            AttachmentOut(
                device=a.device,
                sensors=list(a.sensors),
                from_=from_ms(a.from_ms),
                to=None if a.to_ms is None else from_ms(a.to_ms),
            )
            for a in attached
        ],
    )

"""The asset registry: what each site is (farm field, forest stand, factory bins), in the store.

Readings say what a sensor measured; forecasts also need what the sensor is attached to: the
crop and its planting dates, a stand's species and age, a bin's item, unit weight and reorder
lead time. Those descriptions live in the same store as the readings (measurement `assets`,
tags tenant/site/asset, fields `kind` and `spec` as JSON), so every service that can read the
readings can read them too, and there is no second database to run. A description is rewritten
by writing a newer point; the newest point of each (site, asset) is the one in force.

Every point is a version, stamped with the time of the change and who made it (`by`), so the
history of an entry is the list of its points (`asset_history`), and which device measured a
field, stand or bin at any time follows from it (`attachments`): a device moved to another bin
keeps its earlier readings with the old one. Retiring an entry writes a last version with
`change` = retire; a retired entry is no longer in force but keeps its history.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from storage.errors import StoreError
from storage.layout import ASSET, ASSET_BY, ASSET_CHANGE, SITE, SITE_ASSET, TENANT
from storage.layout import ASSETS_MEASUREMENT as MEASUREMENT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match


class AssetKind(StrEnum):
    """What a registry entry describes."""

    SITE = "site"
    FIELD = "field"
    STAND = "stand"
    BIN = "bin"


class SiteKind(StrEnum):
    """The domain of a site."""

    FARM = "farm"
    FOREST = "forest"
    FACTORY = "factory"


class Change(StrEnum):
    """What a version did to its entry."""

    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"


class AssetError(StoreError):
    """A registry entry that cannot be read or written as given."""


@dataclass(frozen=True, slots=True)
class SiteAsset:
    """Where a site is and what it is; names in Japanese and English for people."""

    site: str
    kind: SiteKind
    name_ja: str
    name_en: str
    latitude: float
    longitude: float
    altitude_m: float
    municipality: str = ""

    @property
    def asset(self) -> str:
        """The registry id of a site's own description."""
        return SITE_ASSET


@dataclass(frozen=True, slots=True)
class FieldAsset:
    """A farm field: its device, crop, area and the planting dates of its seasons (ISO dates).

    `expected_harvests` follows `plantings` (the same position is the same season; "" where no
    date is expected). `sensors` are the channels of `device` that measure the field (none
    listed: all of them); `device` is "" while no device is attached.
    """

    site: str
    asset: str
    device: str
    crop: str
    area_ha: float
    plantings: tuple[str, ...] = ()
    variety: str = ""
    expected_harvests: tuple[str, ...] = ()
    name: str = ""
    sensors: tuple[str, ...] = ()

    def planting_dates(self) -> list[dt.date]:
        """Planting dates, oldest first."""
        return sorted(dt.date.fromisoformat(p) for p in self.plantings)

    def expected_harvest(self, planting: dt.date) -> dt.date | None:
        """The harvest date expected for the season planted on `planting`, if one is given."""
        for planted, expected in zip(self.plantings, self.expected_harvests, strict=False):
            if expected and dt.date.fromisoformat(planted) == planting:
                return dt.date.fromisoformat(expected)
        return None


@dataclass(frozen=True, slots=True)
class StandAsset:
    """A forest stand: its device, species, area, and age in years on `age_on` (ISO date).

    `volume_m3_ha` and `dbh_cm` are the inventory on `age_on` (stand volume, mean diameter at
    breast height); dendrometer growth is relative to them.
    """

    site: str
    asset: str
    device: str
    species: str
    area_ha: float
    age_years: float
    age_on: str
    trees_per_ha: float | None = None
    volume_m3_ha: float | None = None
    dbh_cm: float | None = None
    planting_year: int | None = None
    site_index_m: float | None = None
    name: str = ""
    sensors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinAsset:
    """A factory bin watched by a load cell and an item counter of one device."""

    site: str
    asset: str
    device: str
    item: str
    unit_kg: float
    capacity: int
    weight_sensor: str
    count_sensor: str
    lead_time_h: float
    reorder_point: int | None = None
    tare_kg: float = 0.0
    supplier: str = ""
    # Units of difference between counted or booked and measured stock that raise an alert.
    tolerance: int | None = None


Asset = SiteAsset | FieldAsset | StandAsset | BinAsset

_TYPES: dict[AssetKind, type[Any]] = {
    AssetKind.SITE: SiteAsset,
    AssetKind.FIELD: FieldAsset,
    AssetKind.STAND: StandAsset,
    AssetKind.BIN: BinAsset,
}
_KINDS = {cls: kind for kind, cls in _TYPES.items()}


def asset_kind(asset: Asset) -> AssetKind:
    """The registry kind of a description."""
    return _KINDS[type(asset)]


def asset_point(
    tenant: str, asset: Asset, ts_ms: int, *, by: str = "", change: Change = Change.UPDATE
) -> Point:
    """The point of one version: its kind, the rest of it as JSON, who changed it and how."""
    spec = asdict(asset)
    del spec["site"]
    spec.pop("asset", None)
    fields = {
        "kind": asset_kind(asset).value,
        "spec": json.dumps(spec, ensure_ascii=False, sort_keys=True),
        ASSET_BY: by,
        ASSET_CHANGE: change.value,
    }
    return Point(MEASUREMENT, {ASSET: asset.asset, SITE: asset.site, TENANT: tenant}, fields, ts_ms)


def write_assets(
    store: ReadingStore,
    tenant: str,
    assets: Iterable[Asset],
    *,
    now_ms: int | None = None,
    by: str = "",
    change: Change = Change.UPDATE,
) -> int:
    """Register or replace descriptions in one write; returns how many were written.

    A refused write raises AssetError; the points are written in one request, so a caller that
    validated every entry first never leaves half of a batch behind for a reason of its own.
    """
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    points = [asset_point(tenant, a, stamp, by=by, change=change) for a in assets]
    if not points:
        return 0
    refused = store.write_points(points)
    if refused:
        raise AssetError(f"the store refused {len(refused)} asset(s): {refused[0].reason}")
    return len(points)


def retire_asset(
    store: ReadingStore, tenant: str, asset: Asset, *, by: str, now_ms: int | None = None
) -> None:
    """End an entry: it leaves the registry in force and keeps its history."""
    write_assets(store, tenant, [asset], now_ms=now_ms, by=by, change=Change.RETIRE)


def _decode(site: str, asset: str, kind: str, spec: str) -> Asset:
    try:
        cls = _TYPES[AssetKind(kind)]
        values = json.loads(spec)
        if cls is SiteAsset:
            values["kind"] = SiteKind(values["kind"])
        else:
            values["asset"] = asset
        for name in ("plantings", "expected_harvests", "sensors"):
            if name in values:
                values[name] = tuple(values[name])
        decoded: Asset = cls(site=site, **values)
    except (ValueError, KeyError, TypeError) as exc:
        raise AssetError(f"unreadable asset {site}/{asset}: {exc}") from exc
    return decoded


@dataclass(frozen=True, slots=True)
class Registry:
    """Every description of one tenant, newest version of each."""

    sites: dict[str, SiteAsset] = field(default_factory=dict)
    fields: dict[str, list[FieldAsset]] = field(default_factory=dict)
    stands: dict[str, list[StandAsset]] = field(default_factory=dict)
    bins: dict[str, list[BinAsset]] = field(default_factory=dict)
    unreadable: int = 0

    def all_bins(self) -> list[BinAsset]:
        """Every bin of every site."""
        return [b for bins in self.bins.values() for b in bins]

    def bin_for(self, site: str, device: str, sensor: str) -> BinAsset | None:
        """The bin a weight or count sensor belongs to, if registered."""
        for candidate in self.bins.get(site, ()):
            if candidate.device == device and sensor in (
                candidate.weight_sensor,
                candidate.count_sensor,
            ):
                return candidate
        return None


def read_assets(store: ReadingStore, tenant: str, sites: Sequence[str] = ()) -> Registry:
    """The tenant's registry; unreadable entries are counted, not fatal."""
    answer = store.rows(
        Select(
            (MEASUREMENT,),
            match(tenant=tenant, site=sites),
            aggregates=(
                Aggregate(Function.LAST, "spec", "spec"),
                Aggregate(Function.LAST, "kind", "kind"),
                Aggregate(Function.LAST, ASSET_CHANGE, ASSET_CHANGE),
            ),
            group_by=(SITE, ASSET),
        )
    )
    registry = Registry()
    unreadable = 0
    for serie in answer:
        row = next(serie.records())
        if row.get(ASSET_CHANGE) == Change.RETIRE.value:
            continue
        try:
            asset = _decode(serie.tags[SITE], serie.tags[ASSET], row["kind"], row["spec"])
        except AssetError:
            unreadable += 1
            continue
        _file(registry, asset)
    return Registry(registry.sites, registry.fields, registry.stands, registry.bins, unreadable)


def _file(registry: Registry, asset: Asset) -> None:
    if isinstance(asset, SiteAsset):
        registry.sites[asset.site] = asset
    elif isinstance(asset, FieldAsset):
        registry.fields.setdefault(asset.site, []).append(asset)
    elif isinstance(asset, StandAsset):
        registry.stands.setdefault(asset.site, []).append(asset)
    else:
        registry.bins.setdefault(asset.site, []).append(asset)


@dataclass(frozen=True, slots=True)
class AssetVersion:
    """One version of an entry: when and by whom it was written, and what it said."""

    at_ms: int
    by: str
    change: Change
    asset: Asset


def asset_history(store: ReadingStore, tenant: str, site: str, asset: str) -> list[AssetVersion]:
    """Every version of one entry, oldest first; unreadable versions are left out."""
    answer = store.rows(
        Select(
            (MEASUREMENT,),
            match(tenant=tenant, site=site, asset=asset),
            fields=("kind", "spec", ASSET_BY, ASSET_CHANGE),
        )
    )
    versions = []
    for serie in answer:
        for row in serie.records():
            try:
                decoded = _decode(site, asset, row["kind"], row["spec"])
            except AssetError:
                continue
            change = row.get(ASSET_CHANGE) or Change.UPDATE.value
            versions.append(
                AssetVersion(int(row["time"]), row.get(ASSET_BY) or "", Change(change), decoded)
            )
    return sorted(versions, key=lambda v: v.at_ms)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A device (and its channels; none: all) measuring an entry during [from_ms, to_ms)."""

    device: str
    sensors: tuple[str, ...]
    from_ms: int
    to_ms: int | None


def _measured_by(asset: Asset) -> tuple[str, tuple[str, ...]]:
    if isinstance(asset, BinAsset):
        return asset.device, tuple(s for s in (asset.weight_sensor, asset.count_sensor) if s)
    if isinstance(asset, SiteAsset):
        return "", ()
    return asset.device, asset.sensors


def attachments(history: Sequence[AssetVersion]) -> list[Attachment]:
    """Which device measured the entry when, from its versions (oldest first)."""
    out: list[Attachment] = []
    for version in history:
        device, sensors = _measured_by(version.asset)
        if version.change is Change.RETIRE:
            device, sensors = "", ()
        current = out[-1] if out else None
        if current is not None and current.to_ms is None:
            if (current.device, current.sensors) == (device, sensors):
                continue
            out[-1] = Attachment(current.device, current.sensors, current.from_ms, version.at_ms)
        if device:
            out.append(Attachment(device, sensors, version.at_ms, None))
    return out


def asset_tenants(store: ReadingStore) -> list[str]:
    """Every tenant with something in the registry (for services that look at all of them)."""
    answer = store.rows(
        Select(
            (MEASUREMENT,), aggregates=(Aggregate(Function.COUNT, "kind", "n"),), group_by=(TENANT,)
        )
    )
    return sorted({serie.tags[TENANT] for serie in answer})

"""The asset registry: what each site is (farm field, forest stand, factory bins), in the store.

Readings say what a sensor measured; forecasts also need what the sensor is attached to: the
crop and its planting dates, a stand's species and age, a bin's item, unit weight and reorder
lead time. Those descriptions live in the same store as the readings (measurement `assets`,
tags tenant/site/asset, fields `kind` and `spec` as JSON), so every service that can read the
readings can read them too, and there is no second database to run. A description is rewritten
by writing a newer point; the newest point of each (site, asset) is the one in force.
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
from storage.layout import ASSET, SITE, SITE_ASSET, TENANT
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

    @property
    def asset(self) -> str:
        """The registry id of a site's own description."""
        return SITE_ASSET


@dataclass(frozen=True, slots=True)
class FieldAsset:
    """A farm field: its device, crop, area and the planting dates of its seasons (ISO dates)."""

    site: str
    asset: str
    device: str
    crop: str
    area_ha: float
    plantings: tuple[str, ...] = ()

    def planting_dates(self) -> list[dt.date]:
        """Planting dates, oldest first."""
        return sorted(dt.date.fromisoformat(p) for p in self.plantings)


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


def asset_point(tenant: str, asset: Asset, ts_ms: int) -> Point:
    """The point of one description: its kind, and the rest of it as JSON."""
    spec = asdict(asset)
    del spec["site"]
    spec.pop("asset", None)
    fields = {
        "kind": asset_kind(asset).value,
        "spec": json.dumps(spec, ensure_ascii=False, sort_keys=True),
    }
    return Point(MEASUREMENT, {ASSET: asset.asset, SITE: asset.site, TENANT: tenant}, fields, ts_ms)


def write_assets(
    store: ReadingStore, tenant: str, assets: Iterable[Asset], *, now_ms: int | None = None
) -> int:
    """Register or replace descriptions; returns how many were written."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    points = [asset_point(tenant, a, stamp) for a in assets]
    if not points:
        return 0
    refused = store.write_points(points)
    if refused:
        raise AssetError(f"the store refused {len(refused)} asset(s): {refused[0].reason}")
    return len(points)


def _decode(site: str, asset: str, kind: str, spec: str) -> Asset:
    try:
        cls = _TYPES[AssetKind(kind)]
        values = json.loads(spec)
        if cls is SiteAsset:
            values["kind"] = SiteKind(values["kind"])
        else:
            values["asset"] = asset
        if cls is FieldAsset:
            values["plantings"] = tuple(values.get("plantings", ()))
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
            ),
            group_by=(SITE, ASSET),
        )
    )
    registry = Registry()
    unreadable = 0
    for serie in answer:
        row = next(serie.records())
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

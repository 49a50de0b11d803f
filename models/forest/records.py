"""What work records (作業記録) say about a stand's volume: inventories re-anchor its growth,
thinnings and fellings take volume out of it.

Volumes are m³: a record's unit `m3/ha` (or `m³/ha`) is per hectare; `m3`, `m³` or no unit is
the whole stand's volume, divided by the stand's registered area.

- An inventory (stand volume measured on a day) newer than the registry's inventory replaces
  it: the stand's age on that day and that volume anchor the yield-table points (the site
  class) and the dendrometer growth, which counts from that day on.
- A thinning or felling after the anchor removes its volume from the standing stock on its
  day: the stand keeps growing along its curve with the share of trees left
  (standing = share × V(age), each removal lowering the share by volume / standing volume then).
  A felling of the whole volume leaves nothing standing. Removals before the anchoring
  inventory are already in what it measured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.time import JST, MS_PER_DAY
from models.forest.growth import GrowthCurve
from storage.assets import StandAsset
from storage.records import RecordKind, WorkRecord

DAYS_PER_YEAR = 365.2425
PER_HA_UNITS = frozenset({"m3/ha", "m³/ha"})
TOTAL_UNITS = frozenset({"", "m3", "m³"})
VOLUME_KINDS = (RecordKind.INVENTORY, RecordKind.THINNING, RecordKind.FELLING)


@dataclass(frozen=True, slots=True)
class Removal:
    """Volume taken out of a stand by a thinning or felling, at an age of the stand."""

    kind: RecordKind
    at_ms: int
    age: float
    volume_m3_ha: float
    record: str


def volume_m3_ha(record: WorkRecord, area_ha: float) -> float | None:
    """A record's volume per hectare; None without a volume or with an unknown unit."""
    if record.quantity is None or record.quantity < 0:
        return None
    unit = record.unit.strip().lower()
    if unit in PER_HA_UNITS:
        return float(record.quantity)
    if unit in TOTAL_UNITS and area_ha > 0:
        return float(record.quantity) / area_ha
    return None


def _start_ms(day: str) -> int:
    """Midnight (JST) starting an ISO date."""
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), JST).timestamp() * 1000)


def _age_at(stand: StandAsset, at_ms: int) -> float:
    """The stand's age at an instant, from its age on `age_on`."""
    return stand.age_years + (at_ms - _start_ms(stand.age_on)) / (DAYS_PER_YEAR * MS_PER_DAY)


def anchored(stand: StandAsset, records: Sequence[WorkRecord]) -> StandAsset:
    """The stand re-anchored on its newest inventory record after the registry's inventory."""
    start = _start_ms(stand.age_on)
    newest = stand
    for r in sorted(records, key=lambda r: r.at_ms):
        if r.kind is not RecordKind.INVENTORY or r.voided or r.at_ms < start:
            continue
        volume = volume_m3_ha(r, stand.area_ha)
        if volume is None:
            continue
        day = dt.datetime.fromtimestamp(r.at_ms / 1000, JST).date()
        anchor_ms = _start_ms(day.isoformat())
        newest = replace(
            stand,
            age_years=round(_age_at(stand, anchor_ms), 6),
            age_on=day.isoformat(),
            volume_m3_ha=volume,
        )
    return newest


def removals(stand: StandAsset, records: Sequence[WorkRecord]) -> tuple[Removal, ...]:
    """Thinnings and fellings on or after the (anchored) stand's inventory day, oldest first."""
    start = _start_ms(stand.age_on)
    out = []
    for r in sorted(records, key=lambda r: r.at_ms):
        if r.kind not in (RecordKind.THINNING, RecordKind.FELLING) or r.voided:
            continue
        volume = volume_m3_ha(r, stand.area_ha)
        if volume is None or r.at_ms < start:
            continue
        out.append(Removal(r.kind, r.at_ms, _age_at(stand, r.at_ms), volume, r.record))
    return tuple(out)


def standing_share(curve: GrowthCurve, taken: Sequence[Removal], age: float) -> float:
    """The share of the stand's curve still standing at `age` after the removals before it."""
    share = 1.0
    for r in taken:
        if r.age > age:
            break
        standing = share * float(curve.volume(r.age))
        if standing <= 0:
            return 0.0
        share *= max(0.0, 1.0 - r.volume_m3_ha / standing)
    return share

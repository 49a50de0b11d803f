"""Training seasons from work records (作業記録), and seasons CSV rows turned into records.

A season is a planting record of a field and the first harvest record after it on the same
field that no earlier planting took: maturity is the harvest's day, and the yield is what it
weighed (kg, or t) divided by the field's registered area, in t/ha, the unit the harvest model
is trained in. Record a season's harvest once, with the season's whole weight (a failed crop
as a harvest of 0 kg). A planting without a harvest after it is a season still growing and
not a training season, and one without a harvest within 400 days is not taken by a later
harvest. Void records are left out.

A seasons CSV (field_id,crop,planting_date,maturity_date,yield in t/ha) is imported as one
planting and one harvest record per row on the site's field. Their ids come from the site,
field, kind and date, so importing the file again replaces the same records instead of adding
a second harvest, even where a yield was corrected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from core.time import day_start_ms, from_day_number, local_day
from models.harvest.types import HarvestDataError, SeasonRecord
from storage.assets import FieldAsset, Registry
from storage.records import RecordKind, WorkRecord

YIELD_UNIT = "t/ha"
KG_PER_T = 1000.0
# Units a harvest quantity may be recorded in, as kg per unit.
HARVEST_UNITS: dict[str, float] = {"": 1.0, "kg": 1.0, "t": KG_PER_T}
IMPORT_NOTE = "seasons CSV"
# No crop the model knows grows longer; an older planting without a harvest was never cut.
MAX_SEASON_DAYS = 400


@dataclass(frozen=True, slots=True)
class RecordedSeason:
    """A training season and the records it came from."""

    season: SeasonRecord
    field: str
    planting_record: str
    harvest_records: tuple[str, ...]
    harvested_kg: float
    area_ha: float

    def to_json(self) -> dict[str, object]:
        """The season as the model registry lists it among the training data."""
        s = self.season
        matured = None if s.maturity is None else from_day_number(s.maturity).isoformat()
        return {
            "site": s.field_id,
            "field": self.field,
            "crop": s.crop,
            "planting_date": from_day_number(s.planting).isoformat(),
            "maturity_date": matured,
            "yield_t_ha": None if s.yield_value is None else round(s.yield_value, 4),
            "planting_record": self.planting_record,
            "harvest_records": list(self.harvest_records),
        }


def _kg(record: WorkRecord) -> float | None:
    """A harvest record's quantity in kg, None when it has none or an unknown unit."""
    per = HARVEST_UNITS.get(record.unit.strip().lower())
    if per is None or record.quantity is None or record.quantity < 0:
        return None
    return record.quantity * per


def _field(registry: Registry, site: str, asset: str) -> FieldAsset | None:
    """The registered field `asset` at `site`."""
    return next((f for f in registry.fields.get(site, ()) if f.asset == asset), None)


def recorded_seasons(
    records: Sequence[WorkRecord], registry: Registry
) -> tuple[list[RecordedSeason], list[str]]:
    """Seasons of registered fields from their planting and harvest records; what was skipped.

    Seasons of one field may overlap (lettuce planted in May is cut after the July planting),
    so each harvest record ends the oldest season of its field still growing on its day.
    """
    by_field: dict[tuple[str, str], list[WorkRecord]] = {}
    for r in records:
        if r.kind in (RecordKind.PLANTING, RecordKind.HARVEST) and not r.voided:
            by_field.setdefault((r.site, r.asset), []).append(r)
    out: list[RecordedSeason] = []
    skipped: list[str] = []
    for (site, asset), rows in sorted(by_field.items()):
        field = _field(registry, site, asset)
        if field is None:
            skipped.append(f"{site}/{asset}: not a registered field")
            continue
        if not field.area_ha or field.area_ha <= 0:
            skipped.append(f"{site}/{asset}: the field has no area")
            continue
        # Plantings before harvests of the same day: a harvest ends a season of an earlier day.
        rows.sort(key=lambda r: (local_day(r.at_ms), r.kind is RecordKind.PLANTING, r.at_ms))
        growing: list[WorkRecord] = []
        for r in rows:
            if r.kind is RecordKind.PLANTING:
                growing.append(r)
                continue
            day = local_day(r.at_ms)
            if not growing:
                skipped.append(f"{site}/{asset} harvest {from_day_number(day)}: no planting")
                continue
            # A planting never harvested (a failed crop not recorded as such) ends with time.
            while growing and day - local_day(growing[0].at_ms) > MAX_SEASON_DAYS:
                stale = from_day_number(local_day(growing.pop(0).at_ms))
                skipped.append(f"{site}/{asset} planted {stale}: no harvest within a season")
            if not growing:
                skipped.append(f"{site}/{asset} harvest {from_day_number(day)}: no planting")
                continue
            planting = growing.pop(0)
            kg = _kg(r)
            planted = local_day(planting.at_ms)
            if kg is None:
                what = f"{site}/{asset} planted {from_day_number(planted)}"
                skipped.append(f"{what}: the harvest has no quantity in kg or t")
                continue
            season = SeasonRecord(
                field_id=site,
                crop=field.crop.strip().lower(),
                planting=planted,
                maturity=day,
                yield_value=kg / KG_PER_T / field.area_ha,
            )
            out.append(
                RecordedSeason(season, asset, planting.record, (r.record,), kg, field.area_ha)
            )
    out.sort(key=lambda s: (s.season.planting, s.season.field_id, s.field))
    return out, skipped


def _id(site: str, asset: str, kind: RecordKind, day: int) -> str:
    """A record id from where, what and which day: the same row imported again is the same."""
    key = "\x1f".join((IMPORT_NOTE, site, asset, kind.value, str(day)))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def season_records(
    seasons: Sequence[SeasonRecord], registry: Registry, *, by: str
) -> list[WorkRecord]:
    """Planting and harvest records of seasons CSV rows, on each site's (first) field.

    Raises HarvestDataError naming the rows whose site has no registered field, or whose crop
    is not the field's.
    """
    out: list[WorkRecord] = []
    problems: list[str] = []
    for s in seasons:
        fields = sorted(registry.fields.get(s.field_id, ()), key=lambda f: f.asset)
        where = f"line {s.line}" if s.line else s.field_id
        if not fields:
            problems.append(f"{where}: site {s.field_id!r} has no registered field")
            continue
        field = next((f for f in fields if f.crop.strip().lower() == s.crop), None)
        if field is None:
            problems.append(f"{where}: no {s.crop} field registered at {s.field_id!r}")
            continue
        if s.maturity is None or s.yield_value is None:
            problems.append(f"{where}: a season needs its maturity_date and yield")
            continue
        if field.area_ha <= 0:
            problems.append(f"{where}: field {field.asset!r} has no area")
            continue
        kg = round(s.yield_value * field.area_ha * KG_PER_T, 3)
        for kind, day, quantity in (
            (RecordKind.PLANTING, s.planting, None),
            (RecordKind.HARVEST, s.maturity, kg),
        ):
            out.append(
                WorkRecord(
                    s.field_id,
                    field.asset,
                    kind,
                    day_start_ms(day),
                    record=_id(s.field_id, field.asset, kind, day),
                    quantity=quantity,
                    unit="kg" if quantity is not None else "",
                    product=field.variety if kind is RecordKind.PLANTING else "",
                    note=IMPORT_NOTE,
                    by=by,
                )
            )
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise HarvestDataError(f"cannot import the seasons: {shown}{more}")
    return out

"""Work records (作業記録): what people did on a field, stand or bin, and when, in the store.

A record is one point of the measurement `work_records`, tagged with tenant, site, asset, kind
and its own id, stamped with the time the work was done. The rest of it (quantity, unit,
grade, product, note, who entered it and when) is JSON in the field `spec`. The same id at the
same time is the same record: writing it again replaces it, so an import run twice does not
count a harvest twice, and voiding a record rewrites it with who voided it and when (the
record stays in the store and in exports, marked void).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from core.time import from_day_number, local_day
from storage.errors import StoreError
from storage.layout import ASSET, RECORD, RECORD_KIND, RECORDS_MEASUREMENT, SITE, TENANT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Select, match

if TYPE_CHECKING:
    from storage.assets import FieldAsset


class RecordKind(StrEnum):
    """What was done."""

    PLANTING = "planting"
    FERTILISING = "fertilising"
    SPRAYING = "spraying"
    IRRIGATION = "irrigation"
    HARVEST = "harvest"
    INVENTORY = "inventory"
    THINNING = "thinning"
    FELLING = "felling"
    DELIVERY = "delivery"
    WITHDRAWAL = "withdrawal"
    STOCKTAKE = "stocktake"
    # The stock a factory's own system books for a bin at a time (imported), in items.
    BOOK_STOCK = "book_stock"


class RecordError(StoreError):
    """A record that cannot be read or written as given."""


@dataclass(frozen=True, slots=True)
class WorkRecord:
    """One piece of work on one entry of the asset registry.

    `quantity` is in `unit`: kg for a harvest, m³ for thinning, felling and an inventory
    (stand volume), items for deliveries, withdrawals, stocktakes (the counted stock) and book
    stock (what the factory's own system books), mm or m³ for irrigation. `grade` is a
    harvest's quality grade, `product` the fertiliser, pesticide or variety used.
    """

    site: str
    asset: str
    kind: RecordKind
    at_ms: int
    record: str = ""
    quantity: float | None = None
    unit: str = ""
    grade: str = ""
    product: str = ""
    note: str = ""
    by: str = ""
    entered_ms: int = 0
    voided_by: str = ""
    voided_ms: int = 0

    @property
    def voided(self) -> bool:
        """Whether the record was withdrawn by someone (it is kept, marked void)."""
        return bool(self.voided_by)

    def with_id(self) -> WorkRecord:
        """This record with its id: the given one, or one derived from what it says."""
        if self.record:
            return self
        key = "\x1f".join(
            (
                self.site,
                self.asset,
                self.kind.value,
                str(self.at_ms),
                repr(self.quantity),
                self.unit,
                self.grade,
                self.product,
                self.note,
            )
        )
        return replace(self, record=hashlib.sha256(key.encode()).hexdigest()[:16])


_TAGGED = ("site", "asset", "kind", "at_ms", "record")


def record_point(tenant: str, record: WorkRecord) -> Point:
    """The point of one record."""
    record = record.with_id()
    spec = {k: v for k, v in asdict(record).items() if k not in _TAGGED}
    tags = {
        ASSET: record.asset,
        RECORD: record.record,
        RECORD_KIND: record.kind.value,
        SITE: record.site,
        TENANT: tenant,
    }
    fields = {"spec": json.dumps(spec, ensure_ascii=False, sort_keys=True)}
    return Point(RECORDS_MEASUREMENT, tags, fields, record.at_ms)


def write_records(store: ReadingStore, tenant: str, records: Iterable[WorkRecord]) -> int:
    """Store records in one write; returns how many. A refused write raises RecordError."""
    points = [record_point(tenant, r) for r in records]
    if not points:
        return 0
    refused = store.write_points(points)
    if refused:
        raise RecordError(f"the store refused {len(refused)} record(s): {refused[0].reason}")
    return len(points)


def _decode(tags: dict[str, str], at_ms: int, spec: str) -> WorkRecord:
    try:
        values = json.loads(spec)
        return WorkRecord(
            site=tags[SITE],
            asset=tags[ASSET],
            kind=RecordKind(tags[RECORD_KIND]),
            at_ms=at_ms,
            record=tags[RECORD],
            **values,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordError(f"unreadable record {tags.get(RECORD)!r}: {exc}") from exc


def read_records(
    store: ReadingStore,
    tenant: str,
    *,
    sites: Sequence[str] = (),
    assets: Sequence[str] = (),
    kinds: Sequence[RecordKind] = (),
    start_ms: int | None = None,
    end_ms: int | None = None,
    include_void: bool = False,
) -> list[WorkRecord]:
    """The tenant's records in [start, end), oldest first; unreadable ones are left out."""
    answer = store.rows(
        Select(
            (RECORDS_MEASUREMENT,),
            match(tenant=tenant, site=sites, asset=assets, kind=[k.value for k in kinds]),
            fields=("spec",),
            start_ms=start_ms,
            end_ms=end_ms,
            group_by=(SITE, ASSET, RECORD_KIND, RECORD),
        )
    )
    out = []
    for serie in answer:
        for row in serie.records():
            try:
                record = _decode(serie.tags, int(row["time"]), row["spec"])
            except RecordError:
                continue
            if include_void or not record.voided:
                out.append(record)
    return sorted(out, key=lambda r: (r.at_ms, r.record))


def find_record(store: ReadingStore, tenant: str, site: str, record: str) -> WorkRecord | None:
    """One record by its id (void ones too), or None."""
    answer = store.rows(
        Select(
            (RECORDS_MEASUREMENT,),
            match(tenant=tenant, site=site, record=record),
            fields=("spec",),
            group_by=(SITE, ASSET, RECORD_KIND, RECORD),
        )
    )
    for serie in answer:
        for row in serie.records():
            return _decode(serie.tags, int(row["time"]), row["spec"])
    return None


def void_record(
    store: ReadingStore, tenant: str, record: WorkRecord, *, by: str, now_ms: int
) -> WorkRecord:
    """Withdraw a record: it is rewritten as void, with who voided it and when."""
    voided = replace(record.with_id(), voided_by=by, voided_ms=now_ms)
    write_records(store, tenant, [voided])
    return voided


def planting_dates(store: ReadingStore, tenant: str, asset: FieldAsset) -> list[dt.date]:
    """A field's planting dates: the registry's and those of its planting records (the
    registry's alone while the store cannot be read)."""
    from storage.readings import from_store

    records = from_store(
        lambda: read_records(
            store, tenant, sites=[asset.site], assets=[asset.asset], kinds=[RecordKind.PLANTING]
        ),
        [],
    )
    recorded = {from_day_number(local_day(r.at_ms)) for r in records}
    return sorted(recorded.union(asset.planting_dates()))

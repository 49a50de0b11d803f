"""CSV import and export of sites, fields, stands, bins and work records (a spreadsheet's rows).

One header row names the columns (`COLUMNS`; any order, a column left out takes its default,
an unknown column refuses the file). Lists (plantings, expected harvests, sensors) are
separated by `;` within a cell. Rows are numbered as a spreadsheet shows them: the header is
row 1, so the first data row is row 2.

An import checks every row first; a dry run only reports, a real import then writes every row
without a problem in one write and reports the others, each with its row number and every
reason in English and Japanese. So a file of 1,000 bins with 10 bad rows stores 990 and
reports 10, and nothing is half-written: a row is stored whole or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.time import iso_utc
from models.sites.service import RegistryInvalid, RegistryService
from models.sites.validation import FieldError, parse_at
from storage.assets import Asset, BinAsset, FieldAsset, SiteAsset, SiteKind, StandAsset
from storage.records import RecordKind, WorkRecord

MAX_ROWS = 100_000
HEADER_ROW = 1


class Table(StrEnum):
    """What a CSV file holds."""

    SITES = "sites"
    FIELDS = "fields"
    STANDS = "stands"
    BINS = "bins"
    RECORDS = "records"


# Columns of each table; the first ones up to REQUIRED[table] must be present.
COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.SITES: (
        "site",
        "kind",
        "latitude",
        "longitude",
        "altitude_m",
        "name_ja",
        "name_en",
        "municipality",
    ),
    Table.FIELDS: (
        "site",
        "asset",
        "crop",
        "area_ha",
        "device",
        "variety",
        "plantings",
        "expected_harvests",
        "name",
        "sensors",
    ),
    Table.STANDS: (
        "site",
        "asset",
        "species",
        "area_ha",
        "age_years",
        "age_on",
        "device",
        "trees_per_ha",
        "volume_m3_ha",
        "dbh_cm",
        "planting_year",
        "site_index_m",
        "name",
        "sensors",
    ),
    Table.BINS: (
        "site",
        "asset",
        "item",
        "unit_kg",
        "capacity",
        "lead_time_h",
        "device",
        "weight_sensor",
        "count_sensor",
        "reorder_point",
        "tare_kg",
        "supplier",
        "tolerance",
    ),
    Table.RECORDS: (
        "site",
        "asset",
        "kind",
        "at",
        "quantity",
        "unit",
        "grade",
        "product",
        "note",
        "record",
    ),
}
REQUIRED: dict[Table, int] = {
    Table.SITES: 5,
    Table.FIELDS: 4,
    Table.STANDS: 6,
    Table.BINS: 6,
    Table.RECORDS: 4,
}
# Written by an export of records only (who entered and voided it, and when).
RECORD_EXPORT_EXTRA = ("by", "entered", "voided_by", "voided")


@dataclass(frozen=True, slots=True)
class RefusedRow:
    """A row that was not (or would not be) stored, with every reason."""

    row: int
    errors: list[FieldError]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored (none on a dry run) and which rows it refused."""

    dry_run: bool
    stored: int
    refused: list[RefusedRow] = field(default_factory=list)
    # Rows without a problem: stored, or the ones a real import would store.
    valid: int = 0


class _Cells:
    """The cells of one row, converted, with a FieldError for each cell that does not convert."""

    def __init__(self, row: dict[str, str]) -> None:
        self.row = row
        self.errors: list[FieldError] = []

    def text(self, name: str, default: str = "") -> str:
        return (self.row.get(name) or default).strip()

    def items(self, name: str) -> tuple[str, ...]:
        cell = self.row.get(name) or ""
        return tuple(part.strip() for part in cell.split(";") if part.strip())

    def harvests(self, name: str) -> tuple[str, ...]:
        # Positions matter (the n-th harvest goes with the n-th planting): keep empty ones.
        cell = (self.row.get(name) or "").strip()
        return tuple(part.strip() for part in cell.split(";")) if cell else ()

    def number(self, name: str, *, default: float | None = None) -> Any:
        cell = (self.row.get(name) or "").strip()
        if not cell:
            return default
        try:
            value = float(cell)
        except ValueError:
            self.errors.append(
                FieldError(
                    0,
                    name,
                    f"{name} must be a number, got {cell!r}",
                    f"{name} は数値にしてください（{cell!r}）",
                )
            )
            return default
        return int(value) if value.is_integer() and "." not in cell else value

    def whole(self, name: str, *, default: int | None = None) -> Any:
        value = self.number(name, default=default)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


def _site(c: _Cells) -> SiteAsset:
    kind = c.text("kind")
    return SiteAsset(
        site=c.text("site"),
        kind=SiteKind(kind) if kind in SiteKind.__members__.values() else kind,  # type: ignore[arg-type]
        name_ja=c.text("name_ja"),
        name_en=c.text("name_en"),
        latitude=c.number("latitude"),
        longitude=c.number("longitude"),
        altitude_m=c.number("altitude_m"),
        municipality=c.text("municipality"),
    )


def _field(c: _Cells) -> FieldAsset:
    return FieldAsset(
        site=c.text("site"),
        asset=c.text("asset"),
        device=c.text("device"),
        crop=c.text("crop"),
        area_ha=c.number("area_ha"),
        plantings=c.items("plantings"),
        variety=c.text("variety"),
        expected_harvests=c.harvests("expected_harvests"),
        name=c.text("name"),
        sensors=c.items("sensors"),
    )


def _stand(c: _Cells) -> StandAsset:
    return StandAsset(
        site=c.text("site"),
        asset=c.text("asset"),
        device=c.text("device"),
        species=c.text("species"),
        area_ha=c.number("area_ha"),
        age_years=c.number("age_years"),
        age_on=c.text("age_on"),
        trees_per_ha=c.number("trees_per_ha"),
        volume_m3_ha=c.number("volume_m3_ha"),
        dbh_cm=c.number("dbh_cm"),
        planting_year=c.whole("planting_year"),
        site_index_m=c.number("site_index_m"),
        name=c.text("name"),
        sensors=c.items("sensors"),
    )


def _bin(c: _Cells) -> BinAsset:
    return BinAsset(
        site=c.text("site"),
        asset=c.text("asset"),
        device=c.text("device"),
        item=c.text("item"),
        unit_kg=c.number("unit_kg"),
        capacity=c.whole("capacity"),
        weight_sensor=c.text("weight_sensor"),
        count_sensor=c.text("count_sensor"),
        lead_time_h=c.number("lead_time_h"),
        reorder_point=c.whole("reorder_point"),
        tare_kg=c.number("tare_kg", default=0.0),
        supplier=c.text("supplier"),
        tolerance=c.whole("tolerance"),
    )


def _record(c: _Cells) -> WorkRecord:
    at = c.text("at")
    at_ms: Any = None
    if at:
        try:
            at_ms = parse_at(at)
        except ValueError:
            c.errors.append(
                FieldError(
                    0,
                    "at",
                    f"at must be an ISO date or datetime, got {at!r}",
                    f"at は ISO 形式の日付か日時にしてください（{at!r}）",
                )
            )
    if c.text("voided_by"):
        c.errors.append(
            FieldError(
                0,
                "voided_by",
                "a voided record is not imported again",
                "取り消された記録は取り込みません",
            )
        )
    kind = c.text("kind")
    return WorkRecord(
        site=c.text("site"),
        asset=c.text("asset"),
        kind=RecordKind(kind) if kind in RecordKind.__members__.values() else kind,  # type: ignore[arg-type]
        at_ms=at_ms,
        record=c.text("record"),
        quantity=c.number("quantity"),
        unit=c.text("unit"),
        grade=c.text("grade"),
        product=c.text("product"),
        note=c.text("note"),
    )


_PARSERS: dict[Table, Callable[[_Cells], Any]] = {
    Table.SITES: _site,
    Table.FIELDS: _field,
    Table.STANDS: _stand,
    Table.BINS: _bin,
    Table.RECORDS: _record,
}


def _header_refusal(en: str, ja: str) -> ImportResult:
    return ImportResult(True, 0, [RefusedRow(HEADER_ROW, [FieldError(0, "header", en, ja)])])


def _read(table: Table, text: str) -> tuple[list[tuple[int, Any]], list[RefusedRow]] | ImportResult:
    """(row number, parsed entry) of every row that converts, and the rows that do not."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    columns = COLUMNS[table]
    missing = [c for c in columns[: REQUIRED[table]] if c not in header]
    unknown = [h for h in header if h not in columns and h not in RECORD_EXPORT_EXTRA]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(
                (
                    "missing column(s): " + ", ".join(missing),
                    "必須の列がありません: " + ", ".join(missing),
                )
            )
        if unknown:
            problems.append(
                (
                    "unknown column(s): " + ", ".join(unknown),
                    "不明な列があります: " + ", ".join(unknown),
                )
            )
        return _header_refusal("; ".join(p[0] for p in problems), "。".join(p[1] for p in problems))
    parsed: list[tuple[int, Any]] = []
    refused: list[RefusedRow] = []
    for number, row in enumerate(reader, start=HEADER_ROW + 1):
        if number - HEADER_ROW > MAX_ROWS:
            return _header_refusal(
                f"more than {MAX_ROWS} rows; split the file",
                f"{MAX_ROWS}行を超えています。ファイルを分けてください",
            )
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue  # a blank line of a spreadsheet
        if None in row:
            refused.append(
                RefusedRow(
                    number,
                    [FieldError(0, "row", "more cells than columns", "列より多くのセルがあります")],
                )
            )
            continue
        cells = _Cells(row)
        entry = _PARSERS[table](cells)
        if cells.errors:
            refused.append(RefusedRow(number, cells.errors))
        else:
            parsed.append((number, entry))
    return parsed, refused


def import_csv(
    service: RegistryService, tenant: str, table: Table, text: str, *, by: str, dry_run: bool
) -> ImportResult:
    """Check every row, then (unless a dry run) store the rows without a problem in one write."""
    read = _read(table, text)
    if isinstance(read, ImportResult):
        return ImportResult(dry_run, 0, read.refused)
    rows, refused = read
    check: Callable[[str, Sequence[Any]], list[FieldError]] = (
        service.check_records if table is Table.RECORDS else service.check
    )
    # A refused row can make another refusable (a field of a site whose row was refused), so
    # the check repeats on what is left until nothing more is refused.
    while rows:
        errors = check(tenant, [entry for _, entry in rows])
        if not errors:
            break
        by_index: dict[int, list[FieldError]] = {}
        for error in errors:
            by_index.setdefault(error.index, []).append(error)
        refused.extend(RefusedRow(rows[i][0], errs) for i, errs in by_index.items())
        rows = [r for i, r in enumerate(rows) if i not in by_index]
    refused.sort(key=lambda r: r.row)
    refused = [
        RefusedRow(r.row, [FieldError(r.row, e.field, e.en, e.ja) for e in r.errors])
        for r in refused
    ]
    entries = [entry for _, entry in rows]
    if dry_run or not entries:
        return ImportResult(dry_run, 0, refused, len(entries))
    try:
        if table is Table.RECORDS:
            stored = len(service.add_records(tenant, entries, by=by))
        else:
            stored = len(service.save(tenant, entries, by=by))
    except RegistryInvalid as exc:
        # Changed between the check and the write (another import): report, store nothing.
        raced = [RefusedRow(rows[e.index][0], [e]) for e in exc.errors]
        return ImportResult(dry_run, 0, sorted(refused + raced, key=lambda r: r.row), 0)
    return ImportResult(dry_run, stored, refused, stored)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)


def _asset_rows(table: Table, entries: Sequence[Asset]) -> list[list[str]]:
    columns = COLUMNS[table]
    return [[_cell(getattr(e, c)) for c in columns] for e in entries]


def export_assets(
    service: RegistryService, tenant: str, table: Table, sites: Sequence[str] = ()
) -> str:
    """The entries in force of one table as CSV that `import_csv` reads back."""
    registry = service.registry(tenant, sites)
    entries: list[Asset]
    if table is Table.SITES:
        entries = [registry.sites[s] for s in sorted(registry.sites)]
    else:
        group = {
            Table.FIELDS: registry.fields,
            Table.STANDS: registry.stands,
            Table.BINS: registry.bins,
        }[table]
        entries = sorted((e for es in group.values() for e in es), key=lambda e: (e.site, e.asset))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[table])
    writer.writerows(_asset_rows(table, entries))
    return out.getvalue()


def record_rows(records: Sequence[WorkRecord]) -> list[list[str]]:
    """The CSV rows of records (columns: COLUMNS[records] + RECORD_EXPORT_EXTRA)."""
    return [
        [
            r.site,
            r.asset,
            r.kind.value,
            iso_utc(r.at_ms),
            _cell(r.quantity),
            r.unit,
            r.grade,
            r.product,
            r.note,
            r.record,
            r.by,
            iso_utc(r.entered_ms) if r.entered_ms else "",
            r.voided_by,
            iso_utc(r.voided_ms) if r.voided_ms else "",
        ]
        for r in records
    ]


def export_records(records: Sequence[WorkRecord]) -> str:
    """Records as CSV, voided ones marked (`voided_by`, `voided`); `import_csv` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[Table.RECORDS] + RECORD_EXPORT_EXTRA)
    writer.writerows(record_rows(records))
    return out.getvalue()

"""CSV import and export on a real store: every bad row reported, the good ones in one write."""

from __future__ import annotations

import csv
import datetime as dt
import io

from models.sites.csvio import COLUMNS, Table, export_assets, export_records, import_csv
from models.sites.service import RegistryService
from storage.assets import SiteAsset, SiteKind
from storage.protocol import ReadingStore
from storage.records import RecordKind

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()
FACTORY = SiteAsset("suwa", SiteKind.FACTORY, "諏訪", "Suwa", 36.0, 138.1, 760.0)
HEADER = "site,asset,item,unit_kg,capacity,lead_time_h,reorder_point,tare_kg,tolerance\n"


def _service(store: ReadingStore) -> RegistryService:
    service = RegistryService(store, lambda: NOW)
    service.save("t", [FACTORY], by="setup")
    return service


def _bins(bad_every: int = 100) -> tuple[str, dict[int, str]]:
    """1,000 bin rows; every `bad_every`-th is bad in a different way. Returns the bad rows."""
    lines = [HEADER]
    bad: dict[int, str] = {}
    faults = [
        ("unit_kg", "suwa,b{i},screw,-1,100,24,,0,"),
        ("capacity", "suwa,b{i},screw,0.1,0,24,,0,"),
        ("reorder_point", "suwa,b{i},screw,0.1,100,24,101,0,"),
        ("tare_kg", "suwa,b{i},screw,0.1,100,24,,-2,"),
        ("site", "nowhere,b{i},screw,0.1,100,24,,0,"),
        ("unit_kg", "suwa,b{i},screw,heavy,100,24,,0,"),
        ("asset", "suwa,b/{i},screw,0.1,100,24,,0,"),
        ("lead_time_h", "suwa,b{i},screw,0.1,100,-5,,0,"),
        ("tolerance", "suwa,b{i},screw,0.1,100,24,,0,-1"),
        ("item", "suwa,b{i},,0.1,100,24,,0,"),
    ]
    for i in range(1000):
        if i % bad_every == 7:
            field, template = faults[len(bad) % len(faults)]
            lines.append(template.format(i=i) + "\n")
            bad[i + 2] = field  # the header is row 1
        else:
            lines.append(f"suwa,b{i},screw M{i},0.002,5000,48,500,0.5,10\n")
    return "".join(lines), bad


def test_thousand_bins_with_ten_bad_rows_store_990_and_report_10(store: ReadingStore) -> None:
    """The acceptance case: 990 stored in one write, 10 reported with row and reasons."""
    service = _service(store)
    text, bad = _bins()
    assert len(bad) == 10
    dry = import_csv(service, "t", Table.BINS, text, by="key:k1", dry_run=True)
    assert (dry.dry_run, dry.stored, dry.valid) == (True, 0, 990)
    assert {r.row: r.errors[0].field for r in dry.refused} == bad
    assert service.registry("t").bins == {}
    real = import_csv(service, "t", Table.BINS, text, by="key:k1", dry_run=False)
    assert (real.stored, len(real.refused)) == (990, 10)
    assert [r.row for r in real.refused] == sorted(bad)
    for refused in real.refused:
        assert all(e.en and e.ja for e in refused.errors)
    bins = service.registry("t").bins["suwa"]
    assert len(bins) == 990
    stored = {b.asset for b in bins}
    assert not stored & {f"b{row - 2}" for row in bad}
    # Nothing half-written: every stored bin is whole.
    one = next(b for b in bins if b.asset == "b0")
    assert (one.item, one.unit_kg, one.capacity, one.reorder_point, one.tolerance) == (
        "screw M0",
        0.002,
        5000,
        500,
        10,
    )


def test_export_reads_back_as_the_same_registry(store: ReadingStore) -> None:
    """Sites, fields, stands and bins exported as CSV import again unchanged."""
    service = _service(store)
    sites = (
        "site,kind,latitude,longitude,altitude_m,name_ja,name_en\n"
        "azumino,farm,36.3,137.9,540,安曇野,Azumino\n"
        "ina,forest,35.8,137.9,800,伊那,Ina\n"
    )
    fields = (
        "site,asset,crop,area_ha,device,plantings,expected_harvests,sensors\n"
        "azumino,f1,lettuce,0.5,pi-1,2026-04-01;2026-05-01,2026-06-01;,air;soil\n"
    )
    stands = (
        "site,asset,species,area_ha,age_years,age_on,planting_year\n"
        "ina,s1,larch,12,40,2025-04-01,1985\n"
    )
    for table, text in ((Table.SITES, sites), (Table.FIELDS, fields), (Table.STANDS, stands)):
        result = import_csv(service, "t", table, text, by="x", dry_run=False)
        assert result.refused == [], result
    before = service.registry("t")
    field = before.fields["azumino"][0]
    assert field.plantings == ("2026-04-01", "2026-05-01")
    assert field.expected_harvests == ("2026-06-01", "")
    assert field.sensors == ("air", "soil")
    exported = {
        t: export_assets(service, "t", t) for t in (Table.SITES, Table.FIELDS, Table.STANDS)
    }
    assert next(csv.reader(io.StringIO(exported[Table.FIELDS]))) == list(COLUMNS[Table.FIELDS])
    other = RegistryService(store, lambda: NOW)
    for table, text in exported.items():
        assert import_csv(other, "u", table, text, by="x", dry_run=False).refused == []
    after = other.registry("u")
    assert after.sites == before.sites
    assert after.fields == before.fields
    assert after.stands == before.stands


def test_header_problems_refuse_the_file_as_row_1(store: ReadingStore) -> None:
    """A missing or unknown column is reported on row 1 and nothing is stored."""
    service = _service(store)
    result = import_csv(
        service, "t", Table.BINS, "site,asset,itme\nsuwa,b1,x\n", by="x", dry_run=False
    )
    assert result.stored == 0
    assert [r.row for r in result.refused] == [1]
    assert "itme" in result.refused[0].errors[0].en
    assert "列" in result.refused[0].errors[0].ja


def test_records_import_and_export(store: ReadingStore) -> None:
    """Records from a spreadsheet: bad rows reported, the rest stored, exported with who."""
    service = _service(store)
    import_csv(
        service,
        "t",
        Table.BINS,
        HEADER + "suwa,b1,screw,0.002,5000,48,500,0.5,10\n",
        by="x",
        dry_run=False,
    )
    text = (
        "site,asset,kind,at,quantity,note\n"
        "suwa,b1,delivery,2026-05-01,1000,first\n"
        "suwa,b1,stocktake,2026-05-02T09:00:00Z,980,\n"
        "suwa,b1,harvest,2026-05-02,5,wrong kind\n"
        "suwa,b1,withdrawal,someday,5,\n"
        "suwa,b9,withdrawal,2026-05-02,5,no such bin\n"
    )
    result = import_csv(service, "t", Table.RECORDS, text, by="key:k1", dry_run=False)
    assert result.stored == 2
    assert {r.row: r.errors[0].field for r in result.refused} == {4: "kind", 5: "at", 6: "asset"}
    records = service.records("t")
    assert [r.kind for r in records] == [RecordKind.DELIVERY, RecordKind.STOCKTAKE]
    exported = export_records(records)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["kind"], r["quantity"], r["unit"], r["by"]) for r in rows] == [
        ("delivery", "1000", "items", "key:k1"),
        ("stocktake", "980", "items", "key:k1"),
    ]
    again = import_csv(service, "t", Table.RECORDS, exported, by="key:k1", dry_run=False)
    assert (again.stored, again.refused) == (2, [])
    assert len(service.records("t")) == 2  # the same ids: replaced, not counted twice

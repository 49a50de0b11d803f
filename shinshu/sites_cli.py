"""`shinshu sites …` and `shinshu records …`: the asset registry and work records from a shell.

Entries and records are given as the CSV columns of docs/registry.md, either a file
(`import`) or `column=value` words (`add`), and go through the same validation as the API;
every change is stamped `cli:<user>`. Refusals are printed in English and Japanese.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings
    from models.sites.csvio import ImportResult
    from models.sites.service import RegistryService

ENTRY_TABLES = ("sites", "fields", "stands", "bins")


def changed_by() -> str:
    """Who a change from the command line is stamped with."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def _service(settings: Settings, *, writing: bool) -> RegistryService:
    from models.sites.service import RegistryService
    from storage import open_store

    store = open_store(settings, timeout=120.0)
    if writing and settings.influx_create_db:
        store.ensure_database()
    return RegistryService(store)


def _report(result: ImportResult, *, rows: bool = True, out: Any = sys.stdout) -> int:
    """Print what was stored and every refused row (its number, if `rows`); 0 if none was."""
    verb = "would store" if result.dry_run else "stored"
    count = result.valid if result.dry_run else result.stored
    print(f"{verb} {count} row(s); refused {len(result.refused)}", file=out)
    for refused in result.refused:
        where = f"row {refused.row}\t" if rows else ""
        for error in refused.errors:
            print(f"{where}{error.field}\t{error.en}\t{error.ja}", file=out)
    return 0 if not result.refused else 1


def _words(words: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise ValueError(f"expected column=value, got {word!r}")
        values[name.strip()] = value
    return values


def _one_row(values: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(values), lineterminator="\n")
    writer.writeheader()
    writer.writerow(values)
    return out.getvalue()


def _import(settings: Settings, table: str, text: str, *, dry_run: bool, rows: bool = True) -> int:
    from models.sites.csvio import Table, import_csv

    service = _service(settings, writing=not dry_run)
    result = import_csv(
        service, settings.tenant, Table(table), text, by=changed_by(), dry_run=dry_run
    )
    return _report(result, rows=rows)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _sites(settings: Settings, args: argparse.Namespace) -> int:
    from models.sites.csvio import Table, export_assets

    action = args.sites_command
    if action == "list":
        registry = _service(settings, writing=False).registry(settings.tenant)
        print(
            "site\tkind\tname_ja\tname_en\tmunicipality\tlatitude\tlongitude\taltitude_m\tentries"
        )
        for site in sorted(registry.sites):
            s = registry.sites[site]
            entries = sum(
                len(g.get(site, ())) for g in (registry.fields, registry.stands, registry.bins)
            )
            print(
                f"{s.site}\t{s.kind.value}\t{s.name_ja}\t{s.name_en}\t{s.municipality}\t"
                f"{s.latitude}\t{s.longitude}\t{s.altitude_m}\t{entries}"
            )
        return 0
    if action == "add":
        return _import(
            settings, args.table, _one_row(_words(args.values)), dry_run=False, rows=False
        )
    if action == "import":
        return _import(settings, args.table, _read(args.file), dry_run=args.dry_run)
    if action == "export":
        service = _service(settings, writing=False)
        _write(
            export_assets(service, settings.tenant, Table(args.table), args.only_sites or ()),
            args.output,
        )
        return 0
    return _history(settings, args)


def _history(settings: Settings, args: argparse.Namespace) -> int:
    from core.time import iso_utc

    service = _service(settings, writing=False)
    versions, attached = service.history(settings.tenant, args.entry_site, args.entry_asset)
    print("at\tchange\tby\tdevice")
    for version in versions:
        device = getattr(version.asset, "device", "")
        print(f"{iso_utc(version.at_ms)}\t{version.change.value}\t{version.by}\t{device}")
    for a in attached:
        until = iso_utc(a.to_ms) if a.to_ms is not None else "now"
        sensors = ",".join(a.sensors) or "all"
        print(f"device {a.device} ({sensors}) from {iso_utc(a.from_ms)} to {until}")
    return 0


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp932")


def _ms(day: dt.date | None) -> int | None:
    if day is None:
        return None
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)


def _records(settings: Settings, args: argparse.Namespace) -> int:
    from models.sites.csvio import export_records, record_rows
    from storage.records import RecordKind

    action = args.records_command
    if action == "add":
        return _import(
            settings, "records", _one_row(_words(args.values)), dry_run=False, rows=False
        )
    if action == "import":
        return _import(settings, "records", _read(args.file), dry_run=args.dry_run)
    service = _service(settings, writing=False)
    records = service.records(
        settings.tenant,
        sites=args.only_sites or (),
        assets=args.only_assets or (),
        kinds=[RecordKind(k) for k in args.kind or ()],
        start_ms=_ms(args.start),
        end_ms=_ms(args.end),
        include_void=action == "export" or args.void,
    )
    if action == "export":
        _write(export_records(records), args.output)
        return 0
    print("at\tsite\tasset\tkind\tquantity\tunit\tgrade\tnote\trecord\tby\tvoided_by")
    for row in record_rows(records):
        at, site, asset, kind = row[3], row[0], row[1], row[2]
        print(
            "\t".join(
                [at, site, asset, kind, row[4], row[5], row[6], row[8], row[9], row[10], row[12]]
            )
        )
    return 0


def _selection(parser: argparse.ArgumentParser) -> None:
    # Own dests: `site` names a platform setting.
    parser.add_argument(
        "--site", dest="only_sites", action="append", help="only this site (repeat)"
    )
    parser.add_argument(
        "--asset", dest="only_assets", action="append", help="only this field, stand or bin"
    )
    parser.add_argument(
        "--kind", action="append", help="only records of this kind (repeat): harvest, …"
    )
    parser.add_argument("--start", type=dt.date.fromisoformat, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--end", type=dt.date.fromisoformat, help="day after the last (UTC)")


def add_sites_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`shinshu sites …` and `shinshu records …`."""
    sites = sub.add_parser(
        "sites",
        help="the asset registry: sites, fields, stands, bins",
        description="Columns: docs/registry.md. Changes are stamped cli:<user>.",
    )
    sites.add_argument("--tenant", dest="tenant", help="default: the tenant setting")
    sites_sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    sites_sub.add_parser("list", help="registered sites with their number of entries")
    add = sites_sub.add_parser("add", help="register or change one entry: TABLE column=value …")
    add.add_argument("table", choices=ENTRY_TABLES)
    add.add_argument("values", nargs="+", metavar="column=value")
    imp = sites_sub.add_parser("import", help="import a CSV file (every bad row is reported)")
    imp.add_argument("table", choices=ENTRY_TABLES)
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="only check, store nothing")
    exp = sites_sub.add_parser("export", help="the entries in force as CSV")
    exp.add_argument("table", choices=ENTRY_TABLES)
    exp.add_argument("--site", dest="only_sites", action="append", help="only this site (repeat)")
    exp.add_argument("-o", "--output", type=Path, help="file (default: standard output)")
    history = sites_sub.add_parser("history", help="every version of an entry, who and when")
    history.add_argument("entry_site", metavar="SITE")
    history.add_argument("entry_asset", metavar="ASSET", help="the entry's id; _site: the site")
    sites.set_defaults(handler=_sites)

    records = sub.add_parser(
        "records",
        help="work records: planting, harvest, thinning, deliveries, stocktakes, …",
        description="Columns: docs/registry.md. Records are stamped cli:<user>.",
    )
    records.add_argument("--tenant", dest="tenant", help="default: the tenant setting")
    records_sub = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")
    listing = records_sub.add_parser("list", help="records, oldest first")
    _selection(listing)
    listing.add_argument("--void", action="store_true", help="also voided records")
    add_record = records_sub.add_parser("add", help="enter one record: column=value …")
    add_record.add_argument("values", nargs="+", metavar="column=value")
    imp_records = records_sub.add_parser("import", help="import a CSV file of records")
    imp_records.add_argument("file", type=Path)
    imp_records.add_argument("--dry-run", action="store_true", help="only check, store nothing")
    exp_records = records_sub.add_parser("export", help="records as CSV (voided ones marked)")
    _selection(exp_records)
    exp_records.add_argument("-o", "--output", type=Path, help="file (default: standard output)")
    records.set_defaults(handler=_records)

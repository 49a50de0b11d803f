"""`shinshu export`: a tenant's readings to a CSV or Parquet file with its JSON-LD metadata.

For operators on the server: it reads the store the server's settings name (`SHINSHU_STORE`,
`SHINSHU_INFLUX_*`) and the publication settings of the API (`SHINSHU_API_LICENCE`, ...), with
no key. The rows and the metadata are the API's research export (`storage.export`); the file is
written window by window, so memory stays flat however long the range. FILE.jsonld is written
beside FILE once FILE is complete (its size and SHA-256 are in it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from core.settings import Settings
    from storage.export.provenance import ProvenanceBatch
    from storage.export.selection import Selection

FORMATS = ("csv", "parquet")
# Without a terminal, a progress line is printed each time this many more rows are written.
PLAIN_EVERY_ROWS = 100_000


class ExportArgumentError(ValueError):
    """A command-line argument that cannot be used, with its message in English and Japanese."""

    def __init__(self, en: str, ja: str) -> None:
        """Both texts, printed as one line."""
        super().__init__(f"{en} / {ja}")


def add_export_command(sub: Any) -> None:
    """Register `shinshu export`."""
    export = sub.add_parser(
        "export",
        help="research export of a tenant's readings: CSV or Parquet and JSON-LD metadata "
        "(研究用データの書き出し)",
        description="Writes the readings of TENANT from the first day --start to the last day "
        "--end (UTC, both included) to FILE, and FILE.jsonld with its DCAT/DataCite metadata. "
        "Reads the store of the server's settings; docs/export.md lists the columns.",
    )
    export.add_argument("--tenant", dest="export_tenant", metavar="T", help="tenant id")
    export.add_argument("--start", dest="export_start", metavar="YYYY-MM-DD", help="first day")
    export.add_argument("--end", dest="export_end", metavar="YYYY-MM-DD", help="last day")
    export.add_argument(
        "--site", dest="export_sites", action="append", metavar="S", help="repeat; default all"
    )
    export.add_argument(
        "--kind", dest="export_kinds", action="append", metavar="K", help="repeat; default all"
    )
    export.add_argument("--format", dest="export_format", metavar="csv|parquet")
    export.add_argument("--out", dest="export_out", type=Path, metavar="FILE")
    export.set_defaults(handler=run_export)


def _day(value: str | None, flag: str) -> dt.date:
    if not value:
        raise ExportArgumentError(f"{flag} is required", f"{flag} を指定してください")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ExportArgumentError(
            f"{flag} must be a date YYYY-MM-DD, not {value!r}",
            f"{flag} は YYYY-MM-DD 形式の日付にしてください（{value!r} は不可）",
        ) from None


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)


def selection_of(args: argparse.Namespace) -> tuple[Selection, str, Path]:
    """The selection, format and output file the arguments name; ExportArgumentError if bad."""
    from edge.protocol import ProtocolError, SensorKind, check_id
    from storage.errors import QueryError
    from storage.export.selection import Selection
    from storage.readings import check_range

    if not args.export_tenant:
        raise ExportArgumentError("--tenant is required", "--tenant を指定してください")
    try:
        tenant = check_id(args.export_tenant, "tenant")
        sites = sorted({check_id(s, "site") for s in args.export_sites or []})
    except ProtocolError as exc:
        raise ExportArgumentError(str(exc), "テナントまたはサイトの ID が不正です") from None
    names = {k.value: k for k in SensorKind}
    unknown = [k for k in args.export_kinds or [] if k not in names]
    if unknown:
        raise ExportArgumentError(
            f"unknown --kind {', '.join(unknown)}; known: {', '.join(names)}",
            f"不明なセンサー種別 {', '.join(unknown)}（使える種別: {', '.join(names)}）",
        )
    kinds = sorted({names[k] for k in args.export_kinds or []} or set(SensorKind))
    start = _day(args.export_start, "--start")
    end = _day(args.export_end, "--end")
    start_ms, end_ms = _ms(start), _ms(end + dt.timedelta(days=1))
    try:
        check_range(start_ms, end_ms)
    except QueryError:
        raise ExportArgumentError(
            "need 2000-01-01 <= --start <= --end < 2100-01-01",
            "2000-01-01 <= --start <= --end < 2100-01-01 にしてください",
        ) from None
    if args.export_format not in FORMATS:
        raise ExportArgumentError(
            f"--format must be csv or parquet, not {args.export_format!r}",
            "--format は csv か parquet にしてください",
        )
    out: Path | None = args.export_out
    if out is None:
        raise ExportArgumentError(
            "--out FILE is required", "--out で出力ファイルを指定してください"
        )
    if not out.parent.is_dir():
        raise ExportArgumentError(
            f"no directory {out.parent} for --out",
            f"--out のディレクトリ {out.parent} がありません",
        )
    return Selection(tenant, sites, kinds, start_ms, end_ms), args.export_format, out


@dataclass
class Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise."""

    start_ms: int
    end_ms: int
    stream: TextIO
    rows: int = 0
    _next_line: int = PLAIN_EVERY_ROWS
    _began: float = 0.0

    def __post_init__(self) -> None:
        """Start the clock."""
        self._began = time.monotonic()

    @property
    def terminal(self) -> bool:
        """Whether the stream is a terminal (a bar) or not (lines)."""
        return self.stream.isatty()

    def update(self, rows: int, reached_ms: int) -> None:
        """`rows` more rows were written; the newest is at `reached_ms`."""
        self.rows += rows
        share = min(1.0, (reached_ms - self.start_ms) / (self.end_ms - self.start_ms))
        day = dt.datetime.fromtimestamp(reached_ms / 1000, dt.UTC).date().isoformat()
        if self.terminal:
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r[{bar}] {share:4.0%} {self.rows:,} rows ({day})")
            self.stream.flush()
        elif self.rows >= self._next_line:
            self._next_line = self.rows + PLAIN_EVERY_ROWS
            print(f"exported {self.rows:,} rows, up to {day} ({share:.0%})", file=self.stream)

    def done(self) -> None:
        """End the bar and say how long it took."""
        elapsed = time.monotonic() - self._began
        if self.terminal:
            self.stream.write("\n")
        print(f"exported {self.rows:,} rows in {elapsed:.1f} s", file=self.stream, flush=True)


def _counted(windows: Iterable[ProvenanceBatch], progress: Progress) -> Iterator[ProvenanceBatch]:
    for window in windows:
        yield window
        # Counted once the window is taken: the encoder has written it by the next one.
        progress.update(len(window), int(window.batch.times[-1]))


def run_export(settings: Settings | None, args: argparse.Namespace) -> int:
    """Write FILE and FILE.jsonld; 2 for bad arguments (message in English and Japanese)."""
    try:
        selection, fmt, out = selection_of(args)
    except ExportArgumentError as exc:
        print(f"shinshu export: {exc}", file=sys.stderr)
        return 2
    assert settings is not None
    return export_to_file(settings, selection, fmt, out)


def export_to_file(settings: Settings, selection: Selection, fmt: str, out: Path) -> int:
    """Stream the selection into `out` (via a temporary file), then write its metadata."""
    import json

    from core.settings import load_api_settings
    from storage import open_store
    from storage.export.encoding import csv_chunks, parquet_chunks
    from storage.export.jsonld import MEDIA_TYPES, dataset_jsonld, file_distribution
    from storage.export.provenance import read_places, with_provenance
    from storage.export.selection import Publication, describe
    from storage.readings import Reader

    api = load_api_settings(settings)
    store = open_store(settings, timeout=120.0)
    reader = Reader(store, catalogue_ttl_s=0)
    batches = reader.export(
        selection.tenant,
        sites=selection.sites,
        kinds=selection.kinds,
        start_ms=selection.start_ms,
        end_ms=selection.end_ms,
        window_rows=api.export_window_rows,
    )
    places = read_places(store, selection.tenant, selection.sites)
    progress = Progress(selection.start_ms, selection.end_ms, sys.stderr)
    windows = _counted(with_provenance(batches, places), progress)
    chunks = csv_chunks(windows) if fmt == "csv" else parquet_chunks(windows)
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
    except BaseException:
        # A half-written file must not be taken for an export (Ctrl-C, a store that went down).
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    progress.done()
    publication = Publication(api.dataset_title, api.publisher, api.licence)
    description = describe(reader, selection, publication)
    doc = dataset_jsonld(description, places, [file_distribution(out, MEDIA_TYPES[fmt])])
    metadata = out.with_name(out.name + ".jsonld")
    metadata.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} ({progress.rows:,} rows) and {metadata}")
    return 0

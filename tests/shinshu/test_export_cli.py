"""`shinshu export` on a real SQLite store, as an operator runs it: files, metadata, refusals."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.assets import SiteAsset, SiteKind, write_assets
from storage.batch import ChannelReadings
from storage.sqlite.store import SqliteStore

START = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
STEP_MS = 600_000
# Three days of ten-minute readings of two channels, and an hour missing on the second day.
POINTS = 3 * 144
MISSING = range(200, 206)
TOPIC = DeviceTopic("research", "larch-plot", "logger")
SITE = SiteAsset("larch-plot", SiteKind.FOREST, "カラマツ林", "Larch stand", 36.1, 137.9, 1210.0)


def _times() -> list[int]:
    return [START_MS + i * STEP_MS for i in range(POINTS) if i not in MISSING]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A SQLite store with the readings and the site registered; the command's environment."""
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    write_assets(store, TOPIC.tenant, [SITE])
    times = _times()
    for sensor, kind in (
        ("t-air", SensorKind.AIR_TEMPERATURE),
        ("rh", SensorKind.RELATIVE_HUMIDITY),
    ):
        values = [float(i % 50) for i in range(len(times))]
        store.write_channel(ChannelReadings(TOPIC, sensor, kind, times, values))
    # One clock-corrected reading, as ingest stores one.
    late = Reading("t-air", SensorKind.AIR_TEMPERATURE, START_MS + POINTS * STEP_MS, 9.5)
    store.write_readings(TOPIC, [late], 120_000)
    store.close()
    return {
        **os.environ,
        "SHINSHU_STORE": f"sqlite:///{path}",
        "SHINSHU_DATA_DIR": str(tmp_path),
        "SHINSHU_API_EXPORT_WINDOW_ROWS": "1000",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu` in a fresh interpreter, without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "export", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _args(out: Path, fmt: str, *more: str, end: str = "2025-03-03") -> list[str]:
    return [
        *("--tenant", TOPIC.tenant, "--start", "2025-03-01", "--end", end),
        *("--format", fmt, "--out", str(out), *more),
    ]


def _check_metadata(out: Path, media_type: str, end: str) -> dict[str, object]:
    """FILE.jsonld is JSON-LD with the DCAT keys; its size and checksum are those of FILE."""
    doc = json.loads(out.with_name(out.name + ".jsonld").read_text(encoding="utf-8"))
    assert doc["@type"] == "dcat:Dataset"
    for key in ("@context", "dct:title", "dct:license", "dct:temporal", "dcat:spatial"):
        assert key in doc
    for key in ("dct:creator", "dct:publisher", "dcat:distribution", "datacite"):
        assert key in doc
    (distribution,) = doc["dcat:distribution"]
    assert distribution["dct:title"] == out.name
    assert distribution["dcat:mediaType"]["@id"].endswith(media_type)
    assert int(distribution["dcat:byteSize"]["@value"]) == out.stat().st_size
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert distribution["spdx:checksum"]["spdx:checksumValue"] == digest
    temporal = doc["dct:temporal"]
    assert temporal["dcat:startDate"]["@value"] == "2025-03-01T00:00:00Z"
    assert temporal["dcat:endDate"]["@value"] == end
    points = [s["dcat:centroid"]["@value"] for s in doc["dcat:spatial"]]
    assert f"POINT({SITE.longitude} {SITE.latitude})" in points
    datacite = doc["datacite"]
    assert datacite["types"]["resourceTypeGeneral"] == "Dataset"
    assert datacite["geoLocations"][0]["geoLocationPoint"]["pointLatitude"] == SITE.latitude
    return doc


def test_csv_round_trip_with_flags_coordinates_and_metadata(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Every stored reading once, in time order, with its flags and place; the gap found."""
    out = tmp_path / "larch.csv"
    done = run(env, *_args(out, "csv"))
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    times = _times()
    # The clock-corrected reading is on 2025-03-04, after the last day: not exported.
    assert len(rows) == 2 * len(times)
    assert [int(r["timestamp_ms"]) for r in rows[::2]] == times
    assert {r["kind"] for r in rows} == {"air_temperature", "relative_humidity"}
    assert {(r["latitude"], r["longitude"], r["elevation_m"]) for r in rows} == {
        ("36.1", "137.9", "1210.0")
    }
    gaps = {(r["sensor"], int(r["timestamp_ms"])): r["gap_before_s"] for r in rows}
    after = START_MS + MISSING.stop * STEP_MS
    assert {k for k, v in gaps.items() if v} == {("t-air", after), ("rh", after)}
    assert gaps["t-air", after] == str((len(MISSING) + 1) * STEP_MS / 1000)
    assert {r["clock_corrected"] for r in rows} == {"false"}
    # No terminal: plain progress lines, no bar redrawn in place.
    assert f"exported {len(rows):,} rows" in done.stderr and "\r" not in done.stderr
    _check_metadata(out, "text/csv", "2025-03-04T00:00:00Z")


def test_parquet_round_trip_and_a_kind_and_day_selection(
    env: dict[str, str], tmp_path: Path
) -> None:
    """One kind, up to the fourth day: the clock-corrected reading is flagged in Parquet."""
    out = tmp_path / "larch.parquet"
    more = ("--kind", "air_temperature", "--site", "larch-plot")
    done = run(env, *_args(out, "parquet", *more, end="2025-03-04"))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.column_names[:8] == [
        "time",
        "kind",
        "unit",
        "site",
        "device",
        "sensor",
        "value",
        "clock_corrected",
    ]
    assert set(table.column("kind").to_pylist()) == {"air_temperature"}
    times = table.column("time").cast("int64").to_pylist()
    assert times == [*_times(), START_MS + POINTS * STEP_MS]
    corrected = table.column("clock_corrected").to_pylist()
    assert corrected == [False] * len(_times()) + [True]
    assert set(table.column("elevation_m").to_pylist()) == {1210.0}
    gaps = [g for g in table.column("gap_before_s").to_pylist() if g is not None]
    assert gaps == [(len(MISSING) + 1) * STEP_MS / 1000]
    doc = _check_metadata(out, "application/vnd.apache.parquet", "2025-03-05T00:00:00Z")
    assert doc["dcat:keyword"] == ["air_temperature"]


@pytest.mark.parametrize(
    ("change", "english", "japanese"),
    [
        (("--start", "2025-13-01"), "must be a date", "形式の日付"),
        (("--format", "xlsx"), "--format must be csv or parquet", "csv か parquet"),
        (("--kind", "wind"), "unknown --kind wind", "不明なセンサー種別"),
        (("--end", "2025-02-01"), "--start <= --end", "にしてください"),
        (("--tenant", ""), "--tenant is required", "を指定してください"),
    ],
)
def test_bad_arguments_exit_2_in_both_languages(
    env: dict[str, str], tmp_path: Path, change: tuple[str, str], english: str, japanese: str
) -> None:
    """A bad argument is refused before anything is written, in English and Japanese."""
    out = tmp_path / "x.csv"
    args = _args(out, "csv", "--kind", "air_temperature")
    at = args.index(change[0])
    args[at + 1] = change[1]
    done = run(env, *args)
    assert done.returncode == 2
    assert english in done.stderr and japanese in done.stderr
    assert not out.exists()


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Always a terminal."""
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    """A terminal gets one bar redrawn in place; a pipe a line per PLAIN_EVERY_ROWS rows."""
    from shinshu.export_cli import PLAIN_EVERY_ROWS, Progress

    day_ms = 86_400_000
    terminal = _Terminal()
    bar = Progress(START_MS, START_MS + 10 * day_ms, terminal)
    bar.update(500, START_MS + 5 * day_ms)
    bar.done()
    assert terminal.getvalue().startswith("\r[###############---------------]  50% 500 rows")
    pipe = io.StringIO()
    lines = Progress(START_MS, START_MS + 10 * day_ms, pipe)
    for day in range(1, 4):
        lines.update(PLAIN_EVERY_ROWS, START_MS + day * day_ms)
    lines.done()
    text = pipe.getvalue()
    assert "\r" not in text
    assert text.splitlines()[:3] == [
        f"exported {n * PLAIN_EVERY_ROWS:,} rows, up to 2025-03-0{n + 1} ({n * 10}%)"
        for n in range(1, 4)
    ]

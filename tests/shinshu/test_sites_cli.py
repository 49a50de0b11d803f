"""`shinshu sites …` and `shinshu records …` against a real SQLite store, as a user runs them."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.sites.service import RegistryService
from storage.sqlite.store import SqliteStore


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command line on its own SQLite store and tenant."""
    return {
        **os.environ,
        "SHINSHU_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "SHINSHU_DATA_DIR": str(tmp_path),
        "SHINSHU_TENANT": "farm1",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _service(env: dict[str, str]) -> RegistryService:
    return RegistryService(SqliteStore(Path(env["SHINSHU_STORE"].removeprefix("sqlite:///"))))


def test_add_list_change_and_history(env: dict[str, str]) -> None:
    """A site and a field from the shell; a bad one refused in both languages; who and when."""
    site = run(
        env,
        *("sites", "add", "sites", "site=azumino", "kind=farm", "latitude=36.3"),
        *("longitude=137.9", "altitude_m=540", "name_ja=安曇野圃場"),
    )
    assert site.returncode == 0, site.stderr
    field = ("sites", "add", "fields", "site=azumino", "asset=f1", "crop=lettuce")
    added = run(env, *field, "area_ha=0.4", "device=pi-1", "plantings=2025-04-01;2025-06-01")
    assert added.returncode == 0, added.stdout + added.stderr
    bad = run(env, "sites", "add", "fields", "site=azumino", "asset=f2", "crop=rice", "area_ha=0")
    assert bad.returncode == 1
    assert "area_ha must be greater than 0" in bad.stdout
    assert "area_ha は0より大きくしてください" in bad.stdout
    moved = run(env, *field, "area_ha=0.4", "device=pi-2")
    assert moved.returncode == 0
    listing = run(env, "sites", "list")
    assert "azumino\tfarm\t安曇野圃場" in listing.stdout
    history = run(env, "sites", "history", "azumino", "f1")
    lines = history.stdout.splitlines()
    user = _service(env).history("farm1", "azumino", "f1")[0][0].by
    assert user.startswith("cli:")
    assert [line.split("\t")[1:] for line in lines[1:3]] == [
        ["create", user, "pi-1"],
        ["update", user, "pi-2"],
    ]
    assert any(line.startswith("device pi-1 ") for line in lines)
    registry = _service(env).registry("farm1")
    assert registry.fields["azumino"][0].device == "pi-2"
    assert "f2" not in {f.asset for f in registry.fields["azumino"]}


def test_import_with_dry_run_then_export(env: dict[str, str], tmp_path: Path) -> None:
    """A dry run stores nothing and lists the bad rows; the import stores the good ones."""
    run(
        env,
        *("sites", "add", "sites", "site=suwa", "kind=factory", "latitude=36.0"),
        *("longitude=138.1", "altitude_m=760", "name_en=Suwa"),
    )
    rows = ["site,asset,item,unit_kg,capacity,lead_time_h"]
    rows += [f"suwa,b{i},part {i},0.01,1000,24" for i in range(20)]
    rows[5] = "suwa,b4,part 4,0.01,-3,24"
    bins = tmp_path / "bins.csv"
    bins.write_text("\n".join(rows) + "\n", encoding="utf-8")
    dry = run(env, "sites", "import", "bins", str(bins), "--dry-run")
    assert dry.returncode == 1
    assert dry.stdout.splitlines()[0] == "would store 19 row(s); refused 1"
    assert dry.stdout.splitlines()[1].startswith("row 6\tcapacity\t")
    assert _service(env).registry("farm1").bins == {}
    real = run(env, "sites", "import", "bins", str(bins))
    assert real.stdout.splitlines()[0] == "stored 19 row(s); refused 1"
    out = tmp_path / "out.csv"
    assert run(env, "sites", "export", "bins", "-o", str(out)).returncode == 0
    exported = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(exported) == 19 and "b4" not in {r["asset"] for r in exported}


def test_records_add_list_import_export(env: dict[str, str], tmp_path: Path) -> None:
    """A harvest from the shell, a file of records, and the export of both."""
    run(
        env,
        *("sites", "add", "sites", "site=azumino", "kind=farm", "latitude=36.3"),
        *("longitude=137.9", "altitude_m=540", "name_ja=安曇野"),
    )
    run(env, "sites", "add", "fields", "site=azumino", "asset=f1", "crop=rice", "area_ha=1")
    harvest = run(
        env,
        *("records", "add", "site=azumino", "asset=f1", "kind=harvest", "at=2025-09-20"),
        *("quantity=5400", "grade=1等"),
    )
    assert harvest.returncode == 0, harvest.stdout + harvest.stderr
    records = tmp_path / "records.csv"
    records.write_text(
        "site,asset,kind,at,quantity,product\n"
        "azumino,f1,planting,2025-05-10,,コシヒカリ\n"
        "azumino,f1,thinning,2025-06-01,3,\n",
        encoding="utf-8",
    )
    imported = run(env, "records", "import", str(records))
    assert imported.returncode == 1
    assert imported.stdout.splitlines()[0] == "stored 1 row(s); refused 1"
    assert "row 3\tkind\t" in imported.stdout
    listing = run(env, "records", "list", "--start", "2025-01-01", "--kind", "harvest")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and "\tharvest\t5400\tkg\t1等\t" in lines[1]
    exported = run(env, "records", "export", "--start", "2025-01-01", "--end", "2026-01-01")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["kind"], r["product"]) for r in rows] == [
        ("planting", "コシヒカリ"),
        ("harvest", ""),
    ]
    assert all(r["by"].startswith("cli:") for r in rows)

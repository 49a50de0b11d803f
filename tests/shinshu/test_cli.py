"""The `shinshu` command line as a user runs it."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_score_csv_adds_a_causal_score_to_every_row(tmp_path: Path) -> None:
    """`shinshu models score-csv IN OUT` keeps the rows and adds anomaly_score in [0, 1]."""
    source = tmp_path / "in.csv"
    rows = [("2024-01-01 00:00:00", "1.0")]
    rows += [
        (
            f"2024-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00",
            f"{10 + 3 * math.sin(i / 20):.4f}",
        )
        for i in range(1, 2000)
    ]
    rows[1500] = (rows[1500][0], "80.0")
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        writer.writerows(rows)
    result = run("models", "score-csv", str(source), str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "out.csv").open() as handle:
        scored = list(csv.DictReader(handle))
    assert [(r["timestamp"], r["value"]) for r in scored] == rows
    scores = [float(r["anomaly_score"]) for r in scored]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[1500] == max(scores)


def test_bad_input_gives_a_clear_error_and_no_trace(tmp_path: Path) -> None:
    """A CSV without a value column names the problem; exit status 1, no traceback."""
    source = tmp_path / "in.csv"
    source.write_text("timestamp,reading\n2024-01-01 00:00:00,1\n")
    result = run("models", "score-csv", str(source), str(tmp_path / "out.csv"))
    assert result.returncode == 1
    assert "value" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_reported_with_exit_status_2() -> None:
    """A malformed SHINSHU_ variable stops the command with the setting named."""
    result = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "simulate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"SHINSHU_INGEST_BATCH_POINTS": "lots", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "ingest_batch_points" in result.stderr


def test_harvest_commands_are_reachable_and_report_bad_files(tmp_path: Path) -> None:
    """`shinshu models harvest fit` runs the model's command and names a missing file."""
    result = run(
        "models",
        "harvest",
        "fit",
        "--weather",
        str(tmp_path / "missing.csv"),
        "--seasons",
        str(tmp_path / "s.csv"),
        "--out",
        str(tmp_path / "model"),
    )
    assert result.returncode != 0
    assert "missing.csv" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr

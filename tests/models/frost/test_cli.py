"""`shinshu models frost fit|predict`: files, documented columns, fallback count, round trip."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.frost.cli import main
from models.frost.csvio import FORECAST_COLUMNS, read_weather, write_weather
from models.frost.persist import load_model
from tests.models.frost.conftest import TRAIN_SEED, simulated_site

REPO = Path(__file__).resolve().parents[3]
TMY3 = REPO / "tests" / "data" / "frost" / "greensboro-nc-tmy3.csv"


def _site_csv(path: Path, days: int, *, first_day: int = 60) -> Path:
    """Simulated hourly readings of `days` days as the documented CSV, with a gap and an extra."""
    times, values = simulated_site(TRAIN_SEED)
    a, b = first_day * 24, (first_day + days) * 24
    cut = {k: v[a:b].copy() for k, v in values.items()}
    cut["wind_speed"][30:40] = np.nan  # missing readings are empty cells
    write_weather(path, times[a:b], cut)
    # An unknown column is ignored.
    rows = list(csv.reader(path.open(encoding="utf-8")))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*rows[0], "battery_v"])
        w.writerows([*r, "3.7"] for r in rows[1:])
    return path


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file."""
    with path.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_predict_writes_the_documented_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fit then predict: one row per night and issue time, columns as in docs/frost.md."""
    weather = _site_csv(tmp_path / "hourly.csv", 80)
    assert main(["fit", "--weather", str(weather), "--out", str(tmp_path / "m")]) == 0
    meta = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))
    assert meta["method"] == "model"
    assert meta["training_window"]["nights"] == 79
    assert set(meta["metrics"]) >= {"model_cv_mae", "model_cv_coverage", "persistence_mae"}
    out = tmp_path / "nights.csv"
    args = ["predict", "--model", str(tmp_path / "m"), "--weather", str(weather)]
    assert main([*args, "--out", str(out)]) == 0
    header, rows = _rows(out)
    assert tuple(header) == FORECAST_COLUMNS
    assert len(rows) == 2 * 80
    assert {r["issued_at"][11:] for r in rows} == {"15:00", "21:00"}
    assert {r["method"] for r in rows} == {"model"}
    assert rows[-1]["observed"] == ""  # the last night is not in the file
    for r in rows[:-2]:
        assert float(r["low"]) <= float(r["forecast"]) <= float(r["high"])
    # The warning column is the documented decision: p_frost >= the issue hour's p*.
    p_star = meta["frost_warning"]["p_star"]
    for r in rows:
        p, star = float(r["p_frost"]), p_star[str(int(r["issued_at"][11:13]))]
        if abs(p - star) > 1e-3:  # p_frost is written with three decimals
            assert (r["warning"] == "frost") == (p >= star)
    assert "fallbacks: 0 / 160" in capsys.readouterr().err


def test_short_file_reports_its_fallbacks_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twenty nights: the physical rule makes every forecast, and stderr counts them."""
    weather = _site_csv(tmp_path / "short.csv", 21)
    assert main(["fit", "--weather", str(weather), "--out", str(tmp_path / "m")]) == 0
    assert "physical rule" in capsys.readouterr().err
    out = tmp_path / "nights.csv"
    args = ["predict", "--model", str(tmp_path / "m"), "--weather", str(weather)]
    assert main([*args, "--out", str(out), "--stage", "full_bloom"]) == 0
    header, rows = _rows(out)
    assert tuple(header) == (*FORECAST_COLUMNS, "bud_warning")
    assert {r["method"] for r in rows} == {"physical_rule"}
    assert f"fallbacks: {len(rows)} / {len(rows)}" in capsys.readouterr().err
    assert {r["bud_warning"] for r in rows} <= {"", "warning", "severe"}
    assert {r["warning"] for r in rows} <= {"", "frost"}


def test_bad_input_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A file without air_temperature, an unknown stage: exit 2 and a message."""
    bad = tmp_path / "bad.csv"
    bad.write_text("time,dew_point\n2025-04-01T15:00,2.0\n", encoding="utf-8")
    assert main(["fit", "--weather", str(bad), "--out", str(tmp_path / "m")]) == 2
    assert "air_temperature" in capsys.readouterr().err
    weather = _site_csv(tmp_path / "w.csv", 12)
    assert main(["fit", "--weather", str(weather), "--out", str(tmp_path / "m")]) == 0
    args = ["predict", "--model", str(tmp_path / "m"), "--weather", str(weather)]
    assert main([*args, "--out", str(tmp_path / "n.csv"), "--stage", "bloom"]) == 2
    assert "full_bloom" in capsys.readouterr().err


def test_times_with_an_offset_are_read_as_local_wall_clock(tmp_path: Path) -> None:
    """2025-04-01T18:00+09:00 is 18:00 at the site, whatever the machine's zone."""
    path = tmp_path / "w.csv"
    path.write_text(
        "time,air_temperature,relative_humidity\n"
        "2025-04-01T17:00:00+09:00,6.0,50\n2025-04-01T18:00:00+09:00,4.0,\n",
        encoding="utf-8",
    )
    w = read_weather(path)
    grid = w.grid(w.air_temperature)
    assert grid[0, 18] == 4.0 and grid[0, 17] == 6.0
    assert np.isnan(w.grid(w.relative_humidity)[0, 18])


def test_round_trip_through_the_shinshu_command(tmp_path: Path) -> None:
    """`python -m shinshu.cli models frost` fits the TMY3 year, reloads it and predicts."""
    model_dir, out = tmp_path / "model", tmp_path / "nights.csv"
    base = [sys.executable, "-m", "shinshu.cli", "models", "frost"]
    fit = subprocess.run(
        [*base, "fit", "--weather", str(TMY3), "--out", str(model_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert fit.returncode == 0, fit.stderr
    assert (model_dir / "model.skops").exists()
    predict = subprocess.run(
        [*base, "predict", "--model", str(model_dir), "--weather", str(TMY3), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert predict.returncode == 0, predict.stderr
    assert "fallbacks: 0 / 730" in predict.stderr
    _, rows = _rows(out)
    model = load_model(model_dir)
    direct = model.predict_nights(read_weather(TMY3))
    assert [float(r["forecast"]) for r in rows] == pytest.approx(
        [round(f.forecast, 1) for f in direct], abs=0.051
    )

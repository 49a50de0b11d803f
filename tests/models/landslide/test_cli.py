"""`shinshu models swi`: a rain CSV in, SWI, R60 and level per step out; clear input errors."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.landslide.cli import main
from models.landslide.rainfall import r60
from models.landslide.tank import run_tanks

T0 = dt.datetime(2026, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
COLUMNS = ["time", "rain_mm", "r60_mm", "tank1_mm", "tank2_mm", "tank3_mm", "swi_mm", "level"]


def _storm(steps: int = 144) -> np.ndarray:
    """A day of 10-minute rain with a heavy burst in the middle, to a tenth of a mm."""
    rng = np.random.default_rng(2)
    rain = np.round(np.where(rng.random(steps) < 0.5, rng.gamma(1.0, 2.0, steps), 0.0), 1)
    rain[60:72] += 12.0
    return rain


def _write(path: Path, values: list[float], *, minutes: list[float] | None = None) -> Path:
    """A rain CSV with one row per value, 10 minutes apart unless `minutes` says otherwise."""
    minutes = minutes if minutes is not None else [10.0 * i for i in range(len(values))]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "rain_mm", "note"])
        for m, v in zip(minutes, values, strict=True):
            writer.writerow([(T0 + dt.timedelta(minutes=m)).isoformat(), f"{v:g}", "x"])
    return path


def _read(path: Path) -> list[dict[str, str]]:
    """Rows of an output CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_output_has_every_column_and_the_model_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each row carries the input time and rain, R60, the tanks, SWI and a level name."""
    rain = _storm()
    out = tmp_path / "swi.csv"
    assert (
        main(["--rain", str(_write(tmp_path / "rain.csv", rain.tolist())), "--out", str(out)]) == 0
    )
    rows = _read(out)
    assert list(rows[0]) == COLUMNS
    assert len(rows) == rain.size
    expected = run_tanks(rain, step_minutes=10)
    got = np.array([[float(r[f"tank{k}_mm"]) for k in (1, 2, 3)] for r in rows])
    assert np.allclose(got, expected.storage_mm, atol=5e-4)
    assert np.allclose([float(r["swi_mm"]) for r in rows], expected.swi_mm, atol=2e-3)
    assert np.allclose([float(r["r60_mm"]) for r in rows], r60(rain, step_minutes=10), atol=5e-4)
    assert rows[3]["time"] == (T0 + dt.timedelta(minutes=30)).isoformat()
    assert {r["level"] for r in rows} <= {"none", "caution", "warning", "danger"}
    assert rows[0]["level"] == "none"
    assert rows[71]["level"] != "none"
    printed = capsys.readouterr().out
    assert "土砂災害レベル" in printed
    assert "landslide level none -> caution" in printed


def test_gauge_totals_with_a_reset_give_the_same_output_as_rain_per_step(tmp_path: Path) -> None:
    """--cumulative: running totals with a counter restart reproduce the per-step result."""
    rain = _storm(60)
    rain[0] = 0.0  # the first total has nothing before it and counts as dry
    totals = np.cumsum(rain)
    totals[30:] -= totals[29]  # the logger restarted from zero after row 29
    per_step, cumulative = tmp_path / "a.csv", tmp_path / "b.csv"
    main(["--rain", str(_write(tmp_path / "r.csv", rain.tolist())), "--out", str(per_step)])
    gauge = _write(tmp_path / "g.csv", np.round(totals, 6).tolist())
    assert main(["--rain", str(gauge), "--out", str(cumulative), "--cumulative"]) == 0
    a, b = _read(per_step), _read(cumulative)
    assert [r["swi_mm"] for r in a] == [r["swi_mm"] for r in b]
    assert [r["rain_mm"] for r in a] == [r["rain_mm"] for r in b]


def test_a_run_resumed_from_its_state_file_continues_the_same_series(tmp_path: Path) -> None:
    """Two halves with --state-out then --state-in give the one-run values of the second half."""
    rain = _storm()
    whole, first, second = tmp_path / "w.csv", tmp_path / "1.csv", tmp_path / "2.csv"
    state = tmp_path / "state.json"
    minutes = [10.0 * i for i in range(rain.size)]
    main(["--rain", str(_write(tmp_path / "all.csv", rain.tolist())), "--out", str(whole)])
    head = _write(tmp_path / "h.csv", rain[:80].tolist(), minutes=minutes[:80])
    tail = _write(tmp_path / "t.csv", rain[80:].tolist(), minutes=minutes[80:])
    assert main(["--rain", str(head), "--out", str(first), "--state-out", str(state)]) == 0
    assert main(["--rain", str(tail), "--out", str(second), "--state-in", str(state)]) == 0
    assert [r["swi_mm"] for r in _read(whole)[80:]] == [r["swi_mm"] for r in _read(second)]


def test_thresholds_and_a_critical_line_from_the_command_line(tmp_path: Path) -> None:
    """Lower thresholds raise more rows; a CL crossing reaches danger below the danger SWI."""
    rain = _storm()
    path = _write(tmp_path / "rain.csv", rain.tolist())
    default, strict, line = tmp_path / "d.csv", tmp_path / "s.csv", tmp_path / "l.csv"
    main(["--rain", str(path), "--out", str(default)])
    main(["--rain", str(path), "--out", str(strict), "--caution-swi", "20", "--caution-r60", "off"])
    main(["--rain", str(path), "--out", str(line), "--critical-line", "150,0,0,40"])
    count = {p: sum(r["level"] != "none" for r in _read(p)) for p in (default, strict)}
    assert count[strict] > count[default]
    rows = _read(line)
    assert any(r["level"] == "danger" and float(r["swi_mm"]) < 200 for r in rows)


# (rain values, minutes after the start, extra flags, Japanese and English text expected)
BAD_INPUT = [
    ([1, 2, 3], [0, 20, 10], [], "昇順ではありません", "not in increasing order"),
    ([1, 2, 3, 4], [0, 10, 30, 40], [], "欠測", "gap"),
    ([1, -2, 3], [0, 10, 20], [], "雨量が負です", "negative rain"),
    ([1, 2, 3], [0, 25, 50], [], "割り切る", "divides 60"),
    ([1, 2], [0, 10], ["--step", "5"], "欠測", "gap"),
]


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_reported_in_japanese_and_english_with_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: tuple[list[float], list[float], list[str], str, str],
) -> None:
    """Unsorted times, a gap, negative rain or an unusable step: exit 2, no output file."""
    values, minutes, flags, ja, en = case
    path = _write(tmp_path / "bad.csv", values, minutes=minutes)
    out = tmp_path / "out.csv"
    assert main(["--rain", str(path), "--out", str(out), *flags]) == 2
    error = capsys.readouterr().err
    assert ja in error
    assert en in error
    assert "bad.csv" in error
    assert not out.exists()


def test_a_missing_column_or_a_bad_cell_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file without rain_mm, and a row whose time does not parse, at its line number."""
    no_rain = tmp_path / "no_rain.csv"
    no_rain.write_text("time,rain\n2026-07-01T00:00:00,1\n", encoding="utf-8")
    assert main(["--rain", str(no_rain), "--out", str(tmp_path / "o.csv")]) == 2
    assert "rain_mm" in capsys.readouterr().err
    bad_time = tmp_path / "bad_time.csv"
    bad_time.write_text("time,rain_mm\n2026-07-01T00:00:00,1\nyesterday,2\n", encoding="utf-8")
    assert main(["--rain", str(bad_time), "--out", str(tmp_path / "o.csv")]) == 2
    error = capsys.readouterr().err
    assert "bad_time.csv:3" in error
    assert "ISO 8601" in error


def test_the_platform_command_line_runs_the_model(tmp_path: Path) -> None:
    """`shinshu models swi` passes every option through to the model's command."""
    rain = _write(tmp_path / "rain.csv", _storm().tolist())
    out = tmp_path / "swi.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shinshu.cli",
            "models",
            "swi",
            "--rain",
            str(rain),
            "--out",
            str(out),
            "--caution-swi",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(_read(out)) == 144
    assert "max SWI" in result.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "models", "swi", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert helped.returncode == 0
    assert "--cumulative" in helped.stdout

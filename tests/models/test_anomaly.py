"""Behavioural tests of the streaming anomaly detector on synthetic series."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from models.anomaly import CsvFormatError, StreamingDetector, score_csv

STEP_MS = 15 * 60 * 1000
ONSET = 2400


def seasonal(n: int = 3000, seed: int = 7) -> np.ndarray:
    """Noisy daily sine sampled every 15 minutes."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 5.0 * np.sin(2 * np.pi * t / 96) + rng.normal(0.0, 0.5, n)


def run(values: np.ndarray | list[float]) -> np.ndarray:
    """Scores of a fresh detector over ``values``."""
    det = StreamingDetector()
    return np.array([det.score_one(i * STEP_MS, float(v)) for i, v in enumerate(values)])


def write_csv(path: Path, values: np.ndarray, extra: bool = False) -> None:
    """Write ``values`` as a NAB-style CSV, optionally with an extra column."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "value", "site"] if extra else ["timestamp", "value"])
        for i, v in enumerate(values):
            stamp = f"2014-04-{1 + i // 96:02d} {i % 96 // 4:02d}:{i % 4 * 15:02d}:00"
            writer.writerow([stamp, f"{v:.4f}", f"s{i % 3}"] if extra else [stamp, f"{v:.4f}"])


def test_scores_are_bounded() -> None:
    """Every score lies in [0, 1], including for the learning period."""
    scores = run(seasonal())
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0


def test_causal() -> None:
    """Changing readings after row i leaves the scores up to row i unchanged."""
    base = seasonal()
    cut = 2000
    changed = base.copy()
    changed[cut + 1 :] = np.random.default_rng(99).normal(50.0, 20.0, len(base) - cut - 1)
    a, b = run(base), run(changed)
    np.testing.assert_array_equal(a[: cut + 1], b[: cut + 1])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize("kind", ["spike", "level_shift", "dip", "flat_line"])
def test_anomaly_scores_clearly_higher(kind: str, seed: int) -> None:
    """An injected anomaly scores well above every normal row after warm-up."""
    x = seasonal(seed=seed)
    if kind == "spike":
        x[ONSET] += 15.0
    elif kind == "level_shift":
        x[ONSET:] += 8.0
    elif kind == "dip":
        x[ONSET : ONSET + 20] -= 12.0
    else:
        x[ONSET : ONSET + 150] = x[ONSET]
    scores = run(x)
    normal = scores[500:ONSET]
    assert scores[ONSET : ONSET + 30].max() >= 0.8
    assert scores[ONSET : ONSET + 30].max() > normal.max() + 0.3


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1.0],
        [5.0] * 1500,
        [math.nan, math.inf, -math.inf, 1.0, math.nan] * 300,
        [0.0, 1e308, -1e308, 1e-300] * 200,
    ],
)
def test_robust_to_degenerate_input(values: list[float]) -> None:
    """NaN, inf, constant and very short series never crash and missing values score 0."""
    scores = run(values)
    assert len(scores) == len(values)
    if len(scores):
        assert np.all((scores >= 0.0) & (scores <= 1.0))
    for v, s in zip(values, scores, strict=True):
        if not math.isfinite(v):
            assert s == 0.0


def test_constant_series_is_quiet() -> None:
    """A flat series raises no alarm, a later jump in it does."""
    scores = run([3.0] * 1200 + [9.0])
    assert scores[:-1].max() == 0.0
    assert scores[-1] == 1.0


def test_reason_is_text() -> None:
    """The detector explains its last score."""
    det = StreamingDetector()
    det.score_one(0, math.nan)
    assert det.reason == "missing value"


def test_score_csv_round_trip(tmp_path: Path) -> None:
    """Rows and columns survive, a score column is added, and it matches the detector."""
    x = seasonal(n=800)
    src, dst = tmp_path / "in.csv", tmp_path / "out" / "in.csv"
    write_csv(src, x, extra=True)
    assert score_csv(src, dst) == len(x)
    with src.open() as f:
        before = list(csv.DictReader(f))
    with dst.open() as f:
        reader = csv.DictReader(f)
        after = list(reader)
        assert reader.fieldnames == ["timestamp", "value", "site", "anomaly_score"]
    assert len(after) == len(before)
    for b, a in zip(before, after, strict=True):
        assert {k: a[k] for k in b} == b
    got = np.array([float(r["anomaly_score"]) for r in after])
    expected = run(np.array([float(r["value"]) for r in before]))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_score_csv_accepts_iso_timestamps(tmp_path: Path) -> None:
    """ISO 8601 timestamps with a zone and an empty (missing) value are accepted."""
    src = tmp_path / "iso.csv"
    src.write_text("value,timestamp\n1.5,2024-01-01T00:00:00Z\n,2024-01-01T00:05:00+09:00\n")
    dst = tmp_path / "iso_out.csv"
    assert score_csv(src, dst) == 2
    assert dst.read_text().splitlines()[0] == "value,timestamp,anomaly_score"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("time,value\n2014-01-01 00:00:00,1\n", 1),
        ("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n", 3),
        ("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n", 3),
        ("timestamp,value\n2014-01-01 00:00:00,1,7\n", 2),
        ("", 1),
    ],
)
def test_score_csv_bad_input(tmp_path: Path, text: str, line: int) -> None:
    """Bad input raises CsvFormatError (a ValueError) that names the line."""
    src = tmp_path / "bad.csv"
    src.write_text(text)
    with pytest.raises(CsvFormatError) as info:
        score_csv(src, tmp_path / "bad_out.csv")
    assert info.value.line == line
    assert f":{line}:" in str(info.value)
    assert isinstance(info.value, ValueError)

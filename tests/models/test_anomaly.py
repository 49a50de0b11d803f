"""Behavioural tests of the streaming anomaly detector on synthetic series."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.anomaly import CsvFormatError, StreamingDetector, score_csv
from models.anomaly.context import PhaseMemory

STEP_MS = 15 * 60 * 1000
ONSET = 2400


def seasonal(n: int = 3000, seed: int = 7) -> np.ndarray:
    """Noisy daily sine sampled every 15 minutes."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 5.0 * np.sin(2 * np.pi * t / 96) + rng.normal(0.0, 0.5, n)


def run(values: np.ndarray | list[float], **params: Any) -> np.ndarray:
    """Scores of a fresh detector (with ``params``) over ``values``."""
    det = StreamingDetector(**params)
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


def working_weeks(days: int, holiday: int, seed: int) -> np.ndarray:
    """Busy daily sine on weekdays, a low flat level at weekends; day ``holiday`` is a weekend day.

    Day 0 is 1970-01-01, a Thursday, since the detector reads hours since the epoch.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(days * 96)
    weekday = (t // 96 + 3) % 7
    busy = 10.0 + 5.0 * np.sin(2 * np.pi * t / 96)
    x = np.where(weekday < 5, busy, 3.0)
    x[holiday * 96 : (holiday + 1) * 96] = 3.0
    return x + rng.normal(0.0, 0.3, len(t))


@pytest.mark.parametrize("seed", [5, 7])
def test_weekday_holiday_is_flagged(seed: int) -> None:
    """A Wednesday as quiet as a Sunday is unusual for the hour of the week, not of the day."""
    wednesday = 41  # (41 + 3) % 7 == 2, in the sixth week
    x = working_weeks(49, wednesday, seed)
    day = slice(wednesday * 96, (wednesday + 1) * 96)
    scores = run(x)
    # From the fourth week on, when the weekly memory has seen two weeks after its first.
    others = np.concatenate([scores[21 * 96 : day.start], scores[day.stop :]])
    assert scores[day].max() >= 0.8
    assert scores[day].max() > others.max() + 0.3
    # Without the weekly memory the same day looks normal: weekend levels occur at every hour.
    assert run(x, phase_weeks=10**6)[day].max() < 0.5


def test_phase_memory_by_week() -> None:
    """Hour-of-week memory expects a level seen at that hour a week ago, not yesterday."""
    memory = PhaseMemory(bits=3, periods=4, period_hours=168)
    monday_9 = 4 * 24 + 9  # hours since the epoch: 1970-01-05 09:00 was a Monday
    assert memory.score_and_learn(5, monday_9) == 1.0
    assert memory.score_and_learn(6, monday_9 + 24) == 1.0
    assert memory.score_and_learn(5, monday_9 + 168) == 0.0
    assert memory.score_and_learn(6, monday_9 + 168 + 24 * 7 * 5) == 1.0  # forgotten after 4
    daily = PhaseMemory(bits=3, periods=4, period_hours=24)
    daily.score_and_learn(5, monday_9)
    assert daily.score_and_learn(5, monday_9 + 24) == 0.0
    with pytest.raises(ValueError):
        PhaseMemory(period_hours=0)


@pytest.mark.parametrize("seed", [2, 4, 6])
def test_creeping_drift_is_flagged(seed: int) -> None:
    """A drift past the old minimum in steps far smaller than the tolerance still scores 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(3000)
    x = 10.0 + 5.0 * np.sin(2 * np.pi * t / 96) + rng.normal(0.0, 0.05, len(t))
    x[2000:] -= np.linspace(0.0, 4.0, 1000)
    # Calendar memories would notice the drift too; leave the range rule on its own.
    scores = run(x, use_time_of_day=False)
    assert scores[2000:].max() == 1.0
    assert scores[2000:].max() > scores[500:2000].max() + 0.3
    # Against the range of the readings just before, no step exceeds the tolerance.
    assert run(x, use_time_of_day=False, drift_lag=1)[2000:].max() < 0.8


@pytest.mark.parametrize("seed", [1, 3])
def test_outside_range_breaks_silence_of_lesser_alarm(seed: int) -> None:
    """A spike right after a less certain alarm is still reported; a repeat of it is not."""
    x = seasonal(seed=seed)
    x[ONSET : ONSET + 150] = x[ONSET]
    first = ONSET + int(np.argmax(run(x)[ONSET:] >= 0.5))
    x[first + 1] += 15.0
    x[first + 5] += 15.0
    scores = run(x)
    assert 0.5 <= scores[first] < 1.0
    assert scores[first + 1] == 1.0
    assert scores[first + 5] == 0.0


def test_long_anomaly_keeps_rest_going() -> None:
    """While an anomaly keeps the surprise high, the rest period lasts and alarms are fewer."""
    x = seasonal(n=4000, seed=7)
    x[2400:3400] = np.random.default_rng(7).uniform(x[:2400].min(), x[:2400].max(), 1000)

    def alarms(extend: bool) -> int:
        return int((run(x, extend_rest=extend)[2400:3400] >= 0.5).sum())

    assert 1 <= alarms(True) < alarms(False)


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

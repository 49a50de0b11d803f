"""Landslide levels from SWI and R60: thresholds, the critical line, level rises."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.landslide.errors import LandslideError
from models.landslide.levels import (
    CriticalLine,
    Level,
    Thresholds,
    level_rises,
    levels,
    swi_thresholds_from_history,
)


def test_levels_have_japanese_and_english_names() -> None:
    """Each level reads in both languages and parses back from either."""
    assert [lv.ja for lv in Level] == ["なし", "注意", "警戒", "危険"]
    assert [lv.en for lv in Level] == ["none", "caution", "warning", "danger"]
    assert Level.WARNING.label == "警戒 (warning)"
    assert Level.parse("危険") is Level.DANGER
    assert Level.parse("Caution") is Level.CAUTION


def test_the_default_thresholds_give_each_level_at_its_boundary() -> None:
    """SWI 100 / 150 / 200 mm and R60 30 mm: a value on the threshold reaches the level."""
    t = Thresholds()
    assert t.level(99.9, 29.9) is Level.NONE
    assert t.level(100.0, 0.0) is Level.CAUTION
    assert t.level(10.0, 30.0) is Level.CAUTION
    assert t.level(150.0, 0.0) is Level.WARNING
    assert t.level(200.0, 80.0) is Level.DANGER


def test_a_threshold_set_to_none_is_off() -> None:
    """Without an R60 criterion heavy short rain on dry soil stays at none."""
    t = Thresholds(caution_r60_mm=None)
    assert t.level(20.0, 70.0) is Level.NONE
    assert t.level(20.0, 70.0) < Thresholds().level(20.0, 70.0)


def test_the_critical_line_raises_the_level_beyond_it_only() -> None:
    """A CL from (SWI 250, R60 0) to (SWI 50, R60 60): states past it are at danger."""
    line = CriticalLine(250.0, 0.0, 50.0, 60.0)
    t = Thresholds(critical_line=line)
    assert line.crossed(120.0, 50.0)
    assert not line.crossed(120.0, 10.0)
    assert t.level(120.0, 50.0) is Level.DANGER
    assert t.level(120.0, 10.0) is Level.CAUTION
    assert line.crossed(150.0, 30.0)  # on the line
    warning_line = Thresholds(critical_line=line, critical_line_level=Level.WARNING)
    assert warning_line.level(120.0, 50.0) is Level.WARNING


def test_bad_thresholds_and_lines_are_refused() -> None:
    """Out-of-order thresholds, a CL through the origin or through one point twice."""
    with pytest.raises(LandslideError, match="caution ≤ warning ≤ danger"):
        Thresholds(caution_swi_mm=180.0, warning_swi_mm=150.0)
    with pytest.raises(LandslideError, match="origin"):
        CriticalLine(0.0, 0.0, 100.0, 50.0)
    with pytest.raises(LandslideError, match="same"):
        CriticalLine(100.0, 10.0, 100.0, 10.0)


def test_level_rises_are_each_step_up_with_its_values() -> None:
    """Rises none→caution, caution→warning and caution→danger; falls and repeats are not."""
    t0 = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    times = [t0 + dt.timedelta(minutes=10 * i) for i in range(7)]
    swi = np.array([50.0, 110.0, 120.0, 160.0, 140.0, 210.0, 205.0])
    rain60 = np.array([0.0, 5.0, 5.0, 12.0, 2.0, 20.0, 0.0])
    series = levels(swi, rain60, Thresholds())
    rises = level_rises(times, series, swi, rain60)
    assert [(r.time, r.old, r.new) for r in rises] == [
        (times[1], Level.NONE, Level.CAUTION),
        (times[3], Level.CAUTION, Level.WARNING),
        (times[5], Level.CAUTION, Level.DANGER),
    ]
    assert (rises[2].swi_mm, rises[2].r60_mm) == (210.0, 20.0)
    assert "警戒" in rises[1].message()
    assert "warning" in rises[1].message()
    # A stream resumed at caution does not announce caution again.
    assert level_rises(times[1:3], series[1:3], swi[1:3], rain60[1:3], before=Level.CAUTION) == []


def test_history_percentile_thresholds_split_the_history() -> None:
    """A 90th-percentile caution threshold leaves about a tenth of the history above it."""
    history = np.random.default_rng(4).gamma(2.0, 20.0, 10_000)
    caution, warning, danger = swi_thresholds_from_history(
        history, caution_percentile=90, warning_percentile=99, danger_percentile=99.9
    )
    assert caution < warning < danger
    assert np.mean(history >= caution) == pytest.approx(0.10, abs=0.005)
    assert np.mean(history >= danger) == pytest.approx(0.001, abs=0.0005)
    with pytest.raises(LandslideError):
        swi_thresholds_from_history(
            history, caution_percentile=99, warning_percentile=90, danger_percentile=99.9
        )

"""A site's landslide level from its Soil Water Index and 60-minute rainfall, and level rises.

The default thresholds are placeholders, not published criteria: JMA and the prefectures set
the real ones per municipality and per grid mesh from each area's disaster history, as
SWI criteria for heavy-rain advisories and warnings and as a critical line (CL, the "snake
curve" boundary) in the SWI-R60 plane for landslide alert information. docs/landslide.md says
how to replace them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from models.landslide.errors import LandslideError


class Level(IntEnum):
    """Landslide level, in increasing order of danger."""

    NONE = 0
    CAUTION = 1
    WARNING = 2
    DANGER = 3

    @property
    def ja(self) -> str:
        """The level's Japanese name."""
        return _JA[self]

    @property
    def en(self) -> str:
        """The level's English name."""
        return self.name.lower()

    @property
    def label(self) -> str:
        """Both names, as shown to users: `警戒 (warning)`."""
        return f"{self.ja} ({self.en})"

    @classmethod
    def parse(cls, text: str) -> Level:
        """A level from its English or Japanese name."""
        key = text.strip().lower()
        for level in cls:
            if key in (level.en, level.ja):
                return level
        raise LandslideError(f"不明なレベル: {text}", f"unknown level: {text}")


_JA = {Level.NONE: "なし", Level.CAUTION: "注意", Level.WARNING: "警戒", Level.DANGER: "危険"}


@dataclass(frozen=True)
class CriticalLine:
    """A straight critical line through two (SWI mm, R60 mm) points.

    A state on the far side of the line from the origin (no rain, dry soil) has crossed it;
    a state on the line counts as crossed.
    """

    swi1_mm: float
    r60_1_mm: float
    swi2_mm: float
    r60_2_mm: float

    def __post_init__(self) -> None:
        """Refuse a line that does not separate the dry origin from anything."""
        values = (self.swi1_mm, self.r60_1_mm, self.swi2_mm, self.r60_2_mm)
        if not all(math.isfinite(v) for v in values):
            raise LandslideError("CL の座標が数値ではありません", "the CL points must be numbers")
        if (self.swi1_mm, self.r60_1_mm) == (self.swi2_mm, self.r60_2_mm):
            raise LandslideError("CL の 2 点が同じです", "the two CL points are the same")
        if self._side(0.0, 0.0) == 0.0:
            raise LandslideError("CL が原点を通ります", "the CL passes through the origin")

    def _side(self, swi_mm: float, r60_mm: float) -> float:
        """Signed area: its sign says on which side of the line the point lies."""
        return (self.swi2_mm - self.swi1_mm) * (r60_mm - self.r60_1_mm) - (
            self.r60_2_mm - self.r60_1_mm
        ) * (swi_mm - self.swi1_mm)

    def crossed(self, swi_mm: float, r60_mm: float) -> bool:
        """Whether (SWI, R60) is on or beyond the line, seen from the origin."""
        side = self._side(swi_mm, r60_mm)
        return side == 0.0 or (side > 0) != (self._side(0.0, 0.0) > 0)


@dataclass(frozen=True)
class Thresholds:
    """Per-site thresholds; a level is reached when its SWI or its R60 threshold is.

    None switches a criterion off. The defaults are placeholders (see the module docstring).
    """

    caution_swi_mm: float | None = 100.0
    caution_r60_mm: float | None = 30.0
    warning_swi_mm: float | None = 150.0
    warning_r60_mm: float | None = None
    danger_swi_mm: float | None = 200.0
    danger_r60_mm: float | None = None
    critical_line: CriticalLine | None = None
    critical_line_level: Level = Level.DANGER

    def __post_init__(self) -> None:
        """Refuse thresholds that are negative or out of order."""
        for kind in ("swi", "r60"):
            values = [
                getattr(self, f"{name}_{kind}_mm") for name in ("caution", "warning", "danger")
            ]
            given = [v for v in values if v is not None]
            if any(not (v >= 0 and math.isfinite(v)) for v in given):
                raise LandslideError(
                    f"{kind.upper()} のしきい値は 0 以上の数値にしてください",
                    f"{kind.upper()} thresholds must be numbers of zero or more",
                )
            if given != sorted(given):
                raise LandslideError(
                    f"{kind.upper()} のしきい値は 注意 ≤ 警戒 ≤ 危険 の順にしてください",
                    f"{kind.upper()} thresholds must be caution ≤ warning ≤ danger",
                )

    def level(self, swi_mm: float, r60_mm: float) -> Level:
        """The highest level any criterion reaches at (SWI, R60)."""
        reached = Level.NONE
        for level in (Level.CAUTION, Level.WARNING, Level.DANGER):
            swi_limit = getattr(self, f"{level.en}_swi_mm")
            r60_limit = getattr(self, f"{level.en}_r60_mm")
            if (swi_limit is not None and swi_mm >= swi_limit) or (
                r60_limit is not None and r60_mm >= r60_limit
            ):
                reached = level
        if self.critical_line is not None and self.critical_line.crossed(swi_mm, r60_mm):
            reached = max(reached, self.critical_line_level)
        return reached


def swi_thresholds_from_history(
    swi_mm: Sequence[float] | np.ndarray,
    *,
    caution_percentile: float,
    warning_percentile: float,
    danger_percentile: float,
) -> tuple[float, float, float]:
    """SWI thresholds as percentiles of a site's own SWI history (caution, warning, danger).

    No published percentiles exist for this; the operator chooses them, e.g. from the SWI the
    site had when past slope failures happened.
    """
    history = np.asarray(swi_mm, dtype=float)
    history = history[np.isfinite(history)]
    if history.size == 0:
        raise LandslideError("SWI の履歴がありません", "no SWI history to take percentiles of")
    wanted = (caution_percentile, warning_percentile, danger_percentile)
    if list(wanted) != sorted(wanted) or not all(0 <= p <= 100 for p in wanted):
        raise LandslideError(
            "百分位は 0〜100 で 注意 ≤ 警戒 ≤ 危険 の順にしてください",
            "percentiles must be in 0-100 and caution ≤ warning ≤ danger",
        )
    low, mid, high = np.percentile(history, wanted)
    return float(low), float(mid), float(high)


def levels(
    swi_mm: Sequence[float] | np.ndarray, r60_mm: Sequence[float] | np.ndarray, t: Thresholds
) -> list[Level]:
    """The level at each step."""
    return [
        t.level(s, r)
        for s, r in zip(np.asarray(swi_mm).tolist(), np.asarray(r60_mm).tolist(), strict=True)
    ]


@dataclass(frozen=True)
class LevelRise:
    """The level went up at `time`: from `old` to `new`, with the values that raised it."""

    time: dt.datetime
    old: Level
    new: Level
    swi_mm: float
    r60_mm: float

    def message(self) -> str:
        """One line for an alert, in Japanese and English."""
        return (
            f"{self.time.isoformat()} 土砂災害レベル {self.old.ja} → {self.new.ja} "
            f"(土壌雨量指数 {self.swi_mm:.1f} mm, 60分間雨量 {self.r60_mm:.1f} mm) / "
            f"landslide level {self.old.en} -> {self.new.en} "
            f"(SWI {self.swi_mm:.1f} mm, R60 {self.r60_mm:.1f} mm)"
        )


def level_rises(
    times: Sequence[dt.datetime],
    series: Sequence[Level],
    swi_mm: Sequence[float] | np.ndarray,
    r60_mm: Sequence[float] | np.ndarray,
    *,
    before: Level = Level.NONE,
) -> list[LevelRise]:
    """Each step where the level is higher than at the step before (`before` for the first)."""
    rises: list[LevelRise] = []
    previous = before
    swi = np.asarray(swi_mm, dtype=float).tolist()
    r60 = np.asarray(r60_mm, dtype=float).tolist()
    for time, level, s, r in zip(times, series, swi, r60, strict=True):
        if level > previous:
            rises.append(LevelRise(time, previous, level, s, r))
        previous = level
    return rises

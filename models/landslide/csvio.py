"""The `swi` command's files: a rain CSV in, a CSV of SWI, R60 and level per step out.

In: columns `time` (ISO 8601, the end of each step, all with or all without a UTC offset) and
`rain_mm` (rain fallen during the step ending at `time`; with `cumulative`, the gauge's running
total instead). Other columns are ignored. Out: time, rain_mm, r60_mm, tank1_mm, tank2_mm,
tank3_mm, swi_mm, level.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.landslide.errors import LandslideError
from models.landslide.levels import Level, LevelRise, Thresholds, level_rises, levels
from models.landslide.rainfall import from_cumulative, r60, regular_step, window_steps
from models.landslide.tank import TankModel, TankSeries, run_tanks

TIME = "time"
RAIN = "rain_mm"
OUT_COLUMNS = (
    "time",
    "rain_mm",
    "r60_mm",
    "tank1_mm",
    "tank2_mm",
    "tank3_mm",
    "swi_mm",
    "level",
)


@dataclass(frozen=True)
class RainSeries:
    """A regular rain series: times (as written and parsed) and rain per step in mm."""

    time_text: list[str]
    times: list[dt.datetime]
    rain_mm: np.ndarray
    step_minutes: float
    resets: list[int] = field(default_factory=list)  # rows where a gauge counter restarted


def _number(text: str, where: str, name: str) -> float:
    """A finite number from a cell."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise LandslideError(
            f"{name} が数値ではありません ({text!r})",
            f"{name} is not a number ({text!r})",
            where=where,
        )
    return value


def _time(text: str, where: str) -> dt.datetime:
    """A timestamp from a cell."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise LandslideError(
            f"time が ISO 8601 の時刻ではありません ({text!r})",
            f"time is not an ISO 8601 timestamp ({text!r})",
            where=where,
        ) from None


def read_rain(
    path: Path, *, cumulative: bool = False, step_minutes: float | None = None
) -> RainSeries:
    """Read and check a rain CSV: sorted, regular, no gaps, no negative rain."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LandslideError(
            f"ファイルを開けません ({exc.strerror})",
            f"cannot open ({exc.strerror})",
            where=str(path),
        ) from exc
    texts: list[str] = []
    times: list[dt.datetime] = []
    values: list[float] = []
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in (TIME, RAIN) if c not in header]
        if missing:
            raise LandslideError(
                f"列 {', '.join(missing)} がありません (見出し: {','.join(header)})",
                f"missing column(s) {', '.join(missing)}; header is {','.join(header)}",
                where=str(path),
            )
        for row in reader:
            where = f"{path}:{reader.line_num}"
            cells = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            time = _time(cells[TIME], where)
            value = _number(cells[RAIN], where, RAIN)
            if value < 0:
                raise LandslideError(
                    f"雨量が負です ({value:g} mm)", f"negative rain ({value:g} mm)", where=where
                )
            if times and (time.tzinfo is None) != (times[0].tzinfo is None):
                raise LandslideError(
                    "UTC オフセットのある時刻とない時刻が混在しています",
                    "times with and without a UTC offset are mixed",
                    where=where,
                )
            texts.append(cells[TIME])
            times.append(time)
            values.append(value)
    if not times:
        raise LandslideError("データ行がありません", "no data rows", where=str(path))
    try:
        step = regular_step(times, step_minutes=step_minutes)
        window_steps(step)  # R60 needs a step that divides the hour; say so before computing
    except LandslideError as exc:
        raise exc.at(str(path)) from None
    resets: list[int] = []
    rain = np.asarray(values)
    if cumulative:
        rain, resets = from_cumulative(rain)
    return RainSeries(texts, times, rain, step, resets)


@dataclass(frozen=True)
class SwiResult:
    """The model's output for a rain series."""

    rain: RainSeries
    tanks: TankSeries
    r60_mm: np.ndarray
    levels: list[Level]
    rises: list[LevelRise]
    final_state: dict[str, object]


def evaluate(
    rain: RainSeries, thresholds: Thresholds, *, initial: TankModel | None = None
) -> SwiResult:
    """Tank storages, R60, levels and level rises for a rain series."""
    if initial is not None and abs(initial.step_minutes - rain.step_minutes) > 1e-9:
        raise LandslideError(
            f"再開する状態の時間間隔 ({initial.step_minutes:g} 分) がデータ "
            f"({rain.step_minutes:g} 分) と違います",
            f"the resumed state's step ({initial.step_minutes:g} min) differs from the data's "
            f"({rain.step_minutes:g} min)",
        )
    model = initial if initial is not None else TankModel(step_minutes=rain.step_minutes)
    start = model.storage_mm
    tanks = run_tanks(
        rain.rain_mm, step_minutes=rain.step_minutes, initial_mm=start, tanks=model.tanks
    )
    rain60 = r60(rain.rain_mm, step_minutes=rain.step_minutes)
    series = levels(tanks.swi_mm, rain60, thresholds)
    rises = level_rises(rain.times, series, tanks.swi_mm, rain60)
    last = tanks.storage_mm[-1].tolist() if len(rain.times) else list(start)
    final = TankModel(step_minutes=rain.step_minutes, storage_mm=last, tanks=model.tanks)
    return SwiResult(rain, tanks, rain60, series, rises, final.state())


def _mm(value: float) -> str:
    """A storage or rain amount as written: to a thousandth of a mm."""
    return f"{value:.3f}"


def write_swi(path: Path, result: SwiResult) -> None:
    """Write the per-step output CSV; the level column holds the English name."""
    rows: Sequence[Sequence[str]] = [
        (
            time,
            _mm(rain),
            _mm(rain60),
            *(_mm(s) for s in storage),
            _mm(sum(storage)),
            level.en,
        )
        for time, rain, rain60, storage, level in zip(
            result.rain.time_text,
            result.rain.rain_mm.tolist(),
            result.r60_mm.tolist(),
            result.tanks.storage_mm.tolist(),
            result.levels,
            strict=True,
        )
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUT_COLUMNS)
        writer.writerows(rows)

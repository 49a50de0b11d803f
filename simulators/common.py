"""Shared plumbing of the simulators: seeds, time grids, local calendar and sensor series."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

# MS_PER_HOUR and MS_PER_MINUTE stay importable from here for the simulators' tests.
from core.time import JST_OFFSET_MS, MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE  # noqa: F401
from edge.protocol import CATALOGUE, SensorKind

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Seed: TypeAlias = int | np.random.Generator


def make_rng(seed: Seed) -> np.random.Generator:
    """A Generator from an int seed, or the given Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def time_grid(start_ms: int, duration_ms: int, step_ms: int) -> IntArray:
    """Sample times start, start+step, ... strictly before start+duration (ms since epoch)."""
    if step_ms <= 0 or duration_ms <= 0:
        raise ValueError("step and duration must be positive")
    count = duration_ms // step_ms
    return start_ms + step_ms * np.arange(count, dtype=np.int64)


def local_day(ts_ms: IntArray | int) -> IntArray:
    """JST calendar day of each timestamp, as days since 1970-01-01 (`core.time`'s, on arrays)."""
    return (np.asarray(ts_ms, dtype=np.int64) + JST_OFFSET_MS) // MS_PER_DAY


def day_start_ms(day: IntArray | int) -> IntArray:
    """UTC ms of JST midnight at the start of each local day (`core.time`'s, on arrays)."""
    return np.asarray(day, dtype=np.int64) * MS_PER_DAY - JST_OFFSET_MS


def day_of_year(day: IntArray) -> IntArray:
    """Day of year (1..366) of local days given as days since the epoch."""
    dates = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    return (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1


def year_of(day: IntArray) -> IntArray:
    """Calendar year of local days given as days since the epoch."""
    dates = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    return dates.astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(day: IntArray) -> IntArray:
    """Month (1..12) of local days given as days since the epoch."""
    dates = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    return dates.astype("datetime64[M]").astype(np.int64) % 12 + 1


def jan1(year: int) -> int:
    """Days since the epoch of 1 January of `year`."""
    return int(np.datetime64(f"{year:04d}-01-01", "D").astype(np.int64))


def smooth_noise(rng: np.random.Generator, n: int, sd: float, width: int = 3) -> FloatArray:
    """White noise smoothed by a triangular kernel and rescaled to standard deviation `sd`."""
    kernel = np.concatenate([np.arange(1, width + 1), np.arange(width - 1, 0, -1)]).astype(float)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal(n + len(kernel) - 1)
    return sd * np.convolve(white, kernel, mode="valid")


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> FloatArray:
    """A stationary AR(1) series with lag-1 correlation `phi` and marginal s.d. `sd`."""
    shocks = rng.standard_normal(n) * sd * np.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    state = rng.standard_normal() * sd
    for i in range(n):
        state = phi * state + shocks[i]
        out[i] = state
    return out


@dataclass(frozen=True, slots=True, eq=False)
class SensorSeries:
    """All readings of one sensor channel: timestamps (ms, UTC) and values in the kind's unit."""

    sensor: str
    kind: SensorKind
    ts_ms: IntArray
    values: FloatArray

    def __post_init__(self) -> None:
        """Refuse series whose values would be rejected by the wire protocol."""
        spec = CATALOGUE[self.kind]
        if len(self.ts_ms) != len(self.values):
            raise ValueError(
                f"{self.sensor}: {len(self.ts_ms)} times but {len(self.values)} values"
            )
        if len(self.values) and not (
            np.isfinite(self.values).all()
            and self.values.min() >= spec.low
            and self.values.max() <= spec.high
        ):
            raise ValueError(f"{self.sensor}: values outside {spec.low}..{spec.high}")


def series(
    sensor: str, kind: SensorKind, ts_ms: IntArray, values: FloatArray, digits: int
) -> SensorSeries:
    """A SensorSeries with values rounded to the sensor's resolution and clipped to its range."""
    spec = CATALOGUE[kind]
    clipped = np.clip(np.round(np.asarray(values, dtype=np.float64), digits), spec.low, spec.high)
    return SensorSeries(sensor, kind, np.asarray(ts_ms, dtype=np.int64), clipped)


def iter_readings(
    all_series: Iterable[SensorSeries],
) -> Iterator[tuple[str, SensorKind, int, float]]:
    """Yield (sensor, kind, ts_ms, value) of all series merged in time order."""
    items: Sequence[SensorSeries] = list(all_series)
    if not items:
        return
    ts = np.concatenate([s.ts_ms for s in items])
    values = np.concatenate([s.values for s in items])
    which = np.concatenate([np.full(len(s.ts_ms), i, dtype=np.int64) for i, s in enumerate(items)])
    order = np.argsort(ts, kind="stable")
    for t, v, w in zip(
        ts[order].tolist(), values[order].tolist(), which[order].tolist(), strict=True
    ):
        s = items[w]
        yield s.sensor, s.kind, t, v

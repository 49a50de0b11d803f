"""Simulated sensors for every catalogue kind, so the same agent runs in the demo and tests.

A value is a pure function of (seed, sensor name, kind, timestamp): a daily cycle plus a
hash-derived jitter. Tests recompute what the store must hold from the timestamps alone, and a
reading re-sent after a crash carries the same value as the first time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping

from edge.drivers.base import Driver, DriverError
from edge.protocol import SensorKind

# Typical level and daily swing of each kind, in its canonical unit.
SIGNALS: dict[SensorKind, tuple[float, float]] = {
    SensorKind.AIR_TEMPERATURE: (12.0, 8.0),
    SensorKind.SOIL_TEMPERATURE: (10.0, 3.0),
    SensorKind.RELATIVE_HUMIDITY: (70.0, 20.0),
    SensorKind.SOIL_MOISTURE: (30.0, 6.0),
    SensorKind.RAINFALL: (0.4, 0.4),
    SensorKind.WIND_SPEED: (3.0, 2.0),
    SensorKind.WIND_DIRECTION: (180.0, 150.0),
    SensorKind.STEM_RADIUS: (500.0, 40.0),
    SensorKind.SOLAR_RADIATION: (350.0, 350.0),
    SensorKind.LEAF_WETNESS: (40.0, 40.0),
    SensorKind.BIN_WEIGHT: (480.0, 200.0),
    SensorKind.ITEM_COUNT: (1_000.0, 400.0),
}
_DAY_MS = 86_400_000


def simulated_value(seed: int, name: str, kind: SensorKind, ts_ms: int) -> float:
    """The value simulated sensor `name` reports for `kind` at `ts_ms` (deterministic)."""
    level, swing = SIGNALS[kind]
    phase = 2 * math.pi * (ts_ms % _DAY_MS) / _DAY_MS
    jitter = zlib.crc32(f"{seed}/{name}/{kind.value}/{ts_ms}".encode()) / 0xFFFFFFFF - 0.5
    value = level + swing * math.sin(phase) + swing * 0.1 * jitter
    spec = kind.spec
    value = min(max(value, spec.low), spec.high)
    return float(round(value)) if kind is SensorKind.ITEM_COUNT else round(value, 3)


class SimulatedSensor(Driver):
    """A virtual sensor; `fail=True` makes every read fail (to exercise error reporting).

    `count` makes it fall silent after that many reads, so a test knows the exact total.
    """

    def __init__(
        self,
        name: str,
        kinds: tuple[SensorKind, ...] = (),
        seed: int = 1,
        fail: bool = False,
        count: int | None = None,
    ) -> None:
        """`kinds` defaults to air temperature; `seed` varies the jitter between devices."""
        self.name = name
        self.kinds = kinds or (SensorKind.AIR_TEMPERATURE,)
        self.seed = seed
        self.fail = fail
        self.left = count

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """The simulated values at `ts_ms` (nothing once `count` reads were made)."""
        if self.fail:
            raise DriverError(f"simulated sensor {self.name!r} is set to fail")
        if self.left is not None:
            if self.left <= 0:
                return {}
            self.left -= 1
        return {kind: simulated_value(self.seed, self.name, kind, ts_ms) for kind in self.kinds}

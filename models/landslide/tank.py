"""The Soil Water Index (土壌雨量指数): JMA's three-layer series tank model.

Rain enters the first tank; each tank loses water through side outlets (runoff to the
surrounding soil) and through a bottom hole (infiltration into the tank below, or out of the
model from the third tank). The index is the sum of the three storages, in mm.

Model: Ishihara, Y. & Kobatake, S. (1979), "Runoff model for flood forecasting", Bulletin of the
Disaster Prevention Research Institute, Kyoto University, 29, 27-43. Operational use and the
nationally uniform parameters: Okada, K., Makihara, Y., Shimpo, A., Nagata, K., Kunitsugu, M. &
Saito, K. (2001), "土壌雨量指数 (Soil Water Index)", Tenki 48(5), 349-356; and the Japan
Meteorological Agency's page "土壌雨量指数" (jma.go.jp/jma/kishou/know/bosai/dojoshisu.html,
figure 1). docs/landslide.md says how far each number was checked.

Discretisation: explicit (forward Euler) steps of at most 10 minutes with the per-hour
coefficients scaled by the step length in hours, outflows taken from the storage at the start of
the step and the step's rain added at its end. A longer input step is split into equal substeps
with its rain spread evenly over them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.landslide.errors import LandslideError

# JMA's index is described as computed at 10-minute steps (not confirmed by the sources read,
# see docs/landslide.md); longer input steps are split so that hourly and 10-minute rain give
# the same storage when the hour's rain is even.
SUBSTEP_MINUTES = 10.0
TANK_COUNT = 3


@dataclass(frozen=True)
class Outlet:
    """A side outlet: water above `height_mm` leaves at `coefficient_per_h` of the excess."""

    height_mm: float
    coefficient_per_h: float


@dataclass(frozen=True)
class Tank:
    """One tank: its side outlets and its bottom (infiltration) coefficient, per hour."""

    outlets: tuple[Outlet, ...]
    infiltration_per_h: float

    def side_rate(self, storage_mm: float) -> float:
        """Side outflow in mm/h at this storage."""
        return sum(
            o.coefficient_per_h * (storage_mm - o.height_mm)
            for o in self.outlets
            if storage_mm > o.height_mm
        )

    def max_rate_per_h(self) -> float:
        """The largest fraction of its storage the tank can lose per hour."""
        return self.infiltration_per_h + sum(o.coefficient_per_h for o in self.outlets)


# The nationally uniform parameters (Okada et al. 2001; JMA "土壌雨量指数", figure 1):
# tank 1: side outlets at 15 mm (0.10/h) and 60 mm (0.15/h), infiltration 0.12/h;
# tank 2: side outlet at 15 mm (0.05/h), infiltration 0.05/h;
# tank 3: side outlet at 15 mm (0.01/h), infiltration 0.01/h.
JMA_TANKS: tuple[Tank, Tank, Tank] = (
    Tank((Outlet(15.0, 0.10), Outlet(60.0, 0.15)), 0.12),
    Tank((Outlet(15.0, 0.05),), 0.05),
    Tank((Outlet(15.0, 0.01),), 0.01),
)


@dataclass(frozen=True)
class StepFlows:
    """One step's result: storages after it and the water that left the model during it."""

    storage_mm: tuple[float, ...]
    side_mm: tuple[float, ...]  # per tank, out through the side outlets
    deep_mm: float  # out through the last tank's bottom

    @property
    def swi_mm(self) -> float:
        """The Soil Water Index: the sum of the storages."""
        return sum(self.storage_mm)


def substeps(step_minutes: float) -> tuple[int, float]:
    """How one input step is computed: (number of substeps, substep length in hours)."""
    if not (step_minutes > 0 and math.isfinite(step_minutes)):
        raise LandslideError(
            f"時間間隔は正の値にしてください ({step_minutes} 分)",
            f"the time step must be positive ({step_minutes} min)",
        )
    count = max(1, math.ceil(step_minutes / SUBSTEP_MINUTES - 1e-9))
    return count, step_minutes / count / 60.0


def check_tanks(tanks: Sequence[Tank], dt_hours: float) -> None:
    """Refuse parameters with which an explicit step could drain a tank below zero."""
    for number, tank in enumerate(tanks, start=1):
        rates = [tank.infiltration_per_h] + [o.coefficient_per_h for o in tank.outlets]
        if any(r < 0 or not math.isfinite(r) for r in rates):
            raise LandslideError(
                f"第{number}タンクの係数が負です", f"tank {number} has a negative coefficient"
            )
        # Outflow is at most max_rate * storage * dt; keeping that below the storage keeps every
        # tank non-negative without clipping, so that water is conserved exactly.
        if tank.max_rate_per_h() * dt_hours > 1.0:
            raise LandslideError(
                f"第{number}タンクの係数の合計 × 時間間隔が 1 を超えます",
                f"tank {number}: the sum of its coefficients times the step exceeds 1",
            )


def step_tanks(
    storage_mm: Sequence[float], rain_mm: float, dt_hours: float, tanks: Sequence[Tank]
) -> StepFlows:
    """Advance the tanks by one (sub)step of `dt_hours` with `rain_mm` falling in it."""
    new: list[float] = []
    side: list[float] = []
    inflow = rain_mm
    for tank, stored in zip(tanks, storage_mm, strict=True):
        out_side = tank.side_rate(stored) * dt_hours
        out_bottom = tank.infiltration_per_h * stored * dt_hours
        new.append(stored - out_side - out_bottom + inflow)
        side.append(out_side)
        inflow = out_bottom  # what drains from this tank enters the next one
    return StepFlows(tuple(new), tuple(side), inflow)


def advance(
    storage_mm: Sequence[float],
    rain_mm: float,
    *,
    step_minutes: float,
    tanks: Sequence[Tank] = JMA_TANKS,
) -> StepFlows:
    """Advance by one input step: its substeps, with the step's rain spread evenly over them."""
    count, dt_hours = substeps(step_minutes)
    side = [0.0] * len(tanks)
    deep = 0.0
    storage = tuple(storage_mm)
    for _ in range(count):
        flows = step_tanks(storage, rain_mm / count, dt_hours, tanks)
        storage = flows.storage_mm
        side = [a + b for a, b in zip(side, flows.side_mm, strict=True)]
        deep += flows.deep_mm
    return StepFlows(storage, tuple(side), deep)


@dataclass(frozen=True)
class TankSeries:
    """The model run over a rain series: per step, the state after the step's rain."""

    storage_mm: np.ndarray  # shape (steps, 3)
    side_mm: np.ndarray  # shape (steps, 3): side outflow during each step
    deep_mm: np.ndarray  # shape (steps,): out of the last tank's bottom during each step

    @property
    def swi_mm(self) -> np.ndarray:
        """The Soil Water Index per step."""
        return np.asarray(self.storage_mm.sum(axis=1))


def _check_rain(rain_mm: np.ndarray) -> None:
    """Refuse rain the model cannot take: missing or negative amounts."""
    bad = np.flatnonzero(~np.isfinite(rain_mm) | (rain_mm < 0))
    if bad.size:
        raise LandslideError(
            f"{bad[0] + 1} 番目の雨量が負または欠測です ({rain_mm[bad[0]]})",
            f"rain value {bad[0] + 1} is negative or missing ({rain_mm[bad[0]]})",
        )


def run_tanks(
    rain_mm: Sequence[float] | np.ndarray,
    *,
    step_minutes: float,
    initial_mm: Sequence[float] = (0.0, 0.0, 0.0),
    tanks: Sequence[Tank] = JMA_TANKS,
) -> TankSeries:
    """Run the tank model over rain per step (mm in each step), from `initial_mm` storage."""
    rain = np.asarray(rain_mm, dtype=float)
    _check_rain(rain)
    check_tanks(tanks, substeps(step_minutes)[1])
    storage = np.empty((rain.size, len(tanks)))
    side = np.empty((rain.size, len(tanks)))
    deep = np.empty(rain.size)
    state = tuple(float(s) for s in initial_mm)
    for i, amount in enumerate(rain.tolist()):
        flows = advance(state, amount, step_minutes=step_minutes, tanks=tanks)
        state = flows.storage_mm
        storage[i], side[i], deep[i] = state, flows.side_mm, flows.deep_mm
    return TankSeries(storage, side, deep)


class TankModel:
    """The tank model for streaming use: feed one step's rain, get the index back."""

    def __init__(
        self,
        *,
        step_minutes: float,
        storage_mm: Sequence[float] = (0.0, 0.0, 0.0),
        tanks: Sequence[Tank] = JMA_TANKS,
    ) -> None:
        self.step_minutes = float(step_minutes)
        self.tanks = tuple(tanks)
        check_tanks(self.tanks, substeps(self.step_minutes)[1])
        if len(storage_mm) != len(self.tanks) or any(not s >= 0 for s in storage_mm):
            raise LandslideError(
                "タンクの貯留量は 0 以上の値を 3 つ指定してください",
                "give three storages of zero or more, one per tank",
            )
        self.storage_mm: tuple[float, ...] = tuple(float(s) for s in storage_mm)

    @property
    def swi_mm(self) -> float:
        """The current Soil Water Index."""
        return sum(self.storage_mm)

    def step(self, rain_mm: float) -> float:
        """Take one step with `rain_mm` fallen during it; returns the index after it."""
        _check_rain(np.array([rain_mm], dtype=float))
        flows = advance(
            self.storage_mm, float(rain_mm), step_minutes=self.step_minutes, tanks=self.tanks
        )
        self.storage_mm = flows.storage_mm
        return flows.swi_mm

    def state(self) -> dict[str, Any]:
        """The state as plain JSON-serialisable data, for `from_state` to resume from."""
        return {
            "step_minutes": self.step_minutes,
            "storage_mm": list(self.storage_mm),
            "tanks": [
                {
                    "outlets": [[o.height_mm, o.coefficient_per_h] for o in t.outlets],
                    "infiltration_per_h": t.infiltration_per_h,
                }
                for t in self.tanks
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TankModel:
        """A model resumed from `state()` output."""
        try:
            tanks = tuple(
                Tank(
                    tuple(Outlet(float(h), float(c)) for h, c in t["outlets"]),
                    float(t["infiltration_per_h"]),
                )
                for t in state.get("tanks", [])
            )
            return cls(
                step_minutes=float(state["step_minutes"]),
                storage_mm=[float(s) for s in state["storage_mm"]],
                tanks=tanks or JMA_TANKS,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, LandslideError):
                raise
            raise LandslideError(
                f"タンクモデルの状態を読めません ({exc!r})", f"unreadable tank state ({exc!r})"
            ) from exc

"""Growth forecasts and Faustmann rotations scored on simulated stands with known curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.time import MS_PER_DAY
from models.forest import Economics, faustmann_rotation, fit_growth, mai_culmination
from models.forest.species import SPECIES
from simulators.common import day_start_ms, jan1
from simulators.forest import DEFAULT_STANDS, simulate_forest


@dataclass(frozen=True, slots=True)
class ForestScore:
    """Held-out growth forecast errors and rotation errors against the true curve."""

    stands: int
    volume_mape: float
    baseline_volume_mape: float
    rotation_error_years: float
    mai_rotation_error_years: float
    pooled_rotation_error_years: float


def evaluate_forest(
    seeds: tuple[int, ...], fit_years: int = 12, test_years: int = 8, econ: Economics | None = None
) -> ForestScore:
    """Fit each simulated stand's first years, forecast the rest; rotations vs the true curve.

    The growth baseline extends the mean increment of the last five fitted years linearly; the
    rotation baseline is the age of maximum mean annual increment (no discounting).
    """
    econ = econ or Economics()
    start = int(day_start_ms(jan1(2026)))
    duration = (jan1(2026 + fit_years + test_years) - jan1(2026)) * MS_PER_DAY
    errors: list[tuple[float, float, float, float]] = []
    pooled: dict[object, tuple[list[float], list[float]]] = {}
    for seed in seeds:
        for i, spec in enumerate(DEFAULT_STANDS):
            years = simulate_forest(spec, start, duration, MS_PER_DAY, seed * 10 + i).years
            age = np.array([y.age for y in years], dtype=np.float64)
            vol = np.array([y.volume_m3_ha for y in years])
            curve = fit_growth(age[:fit_years], vol[:fit_years])
            future = age[fit_years:]
            truth = vol[fit_years:]
            slope = (vol[fit_years - 1] - vol[fit_years - 6]) / 5.0
            linear = vol[fit_years - 1] + slope * (future - age[fit_years - 1])
            table = SPECIES[spec.species].yield_table
            true_rotation = faustmann_rotation(table, econ)
            errors.append(
                (
                    float(np.mean(np.abs(curve.volume(future) - truth) / truth)),
                    float(np.mean(np.abs(linear - truth) / truth)),
                    abs(faustmann_rotation(curve, econ) - true_rotation),
                    abs(mai_culmination(table) - true_rotation),
                )
            )
            ages, vols = pooled.setdefault((spec.species, true_rotation), ([], []))
            ages += age[:fit_years].tolist()
            vols += vol[:fit_years].tolist()
    pooled_err = [
        abs(faustmann_rotation(fit_growth(a, v), econ) - rot) for (_, rot), (a, v) in pooled.items()
    ]
    e = np.array(errors)
    return ForestScore(
        stands=len(e),
        volume_mape=float(e[:, 0].mean()),
        baseline_volume_mape=float(e[:, 1].mean()),
        rotation_error_years=float(np.median(e[:, 2])),
        mai_rotation_error_years=float(np.median(e[:, 3])),
        pooled_rotation_error_years=float(np.mean(pooled_err)),
    )

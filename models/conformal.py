"""The split-conformal quantile shared by the models' intervals.

Given the scores of n calibration cases the model did not learn from (absolute residuals, or
how far outcomes fell outside their intervals), the ⌈(n + 1) · coverage⌉-th smallest score
bounds a new exchangeable case's score with probability at least `coverage` (Vovk, Gammerman &
Shafer 2005, *Algorithmic Learning in a Random World*; Lei et al. 2018, "Distribution-free
predictive inference for regression", JASA 113: 1094–1111).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from models.errors import ModelError


class CalibrationError(ModelError, ValueError):
    """Calibration cases that cannot give a margin."""


def conformal_quantile(scores: npt.ArrayLike, coverage: float, *, strict: bool = False) -> float:
    """The ⌈(n + 1) · coverage⌉-th smallest score. With too few cases for that rank, the largest
    score (`strict`: an error instead, as no finite bound then has the guarantee)."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(ordered)
    if n == 0 or not 0.0 < coverage < 1.0:
        raise CalibrationError("need calibration cases and a coverage between 0 and 1")
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        if strict:
            raise CalibrationError(f"{n} calibration cases are too few for {coverage:.0%} coverage")
        rank = n
    return float(ordered[rank - 1])

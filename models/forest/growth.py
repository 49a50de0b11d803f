"""Stand growth curves and Faustmann-optimal rotation ages.

Growth is the Chapman–Richards curve V(t) = A (1 - exp(-k t))^p (Richards 1959, Chapman 1961),
fitted by least squares to stand inventory (volume per age) or to the cumulated yearly increments
that dendrometers give. The rotation maximises the land expectation value of an infinite series
of identical rotations (Faustmann 1849; Samuelson 1976, "Economics of forestry in an evolving
society", Economic Inquiry 14:466–492):

    LEV(T) = (p V(T) - c_h - c_p e^{rT}) / (e^{rT} - 1)

with timber price p per m³, harvest cost c_h and planting cost c_p per ha, and a continuous
discount rate r. Its first-order condition is the Faustmann–Pressler–Ohlin rule

    p V'(T) = r (p V(T) - c_h) + r LEV(T),

i.e. cut when the value growth of the standing timber no longer pays the interest on the timber
and on the land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.errors import ModelError

FloatArray = npt.NDArray[np.float64]

MAX_AGE = 300.0


class ForestModelError(ModelError, ValueError):
    """Growth data or economic parameters the forest model cannot use."""


@dataclass(frozen=True, slots=True)
class GrowthCurve:
    """Chapman–Richards parameters: asymptote A (m³/ha), rate k (1/yr), shape p."""

    a: float
    k: float
    p: float

    def volume(self, age: FloatArray | float) -> FloatArray:
        """Stand volume (m³/ha) at `age` years."""
        t = np.maximum(np.asarray(age, dtype=np.float64), 0.0)
        return self.a * (1.0 - np.exp(-self.k * t)) ** self.p

    def growth(self, age: FloatArray | float) -> FloatArray:
        """Current annual increment dV/dt (m³/ha/yr) at `age` years."""
        t = np.maximum(np.asarray(age, dtype=np.float64), 1e-9)
        e = np.exp(-self.k * t)
        return self.a * self.p * self.k * e * (1.0 - e) ** (self.p - 1.0)


@dataclass(frozen=True, slots=True)
class Economics:
    """Timber price (per m³), harvest and planting costs (per ha) and continuous discount rate."""

    price: float = 12_000.0
    harvest_cost: float = 1_500_000.0
    planting_cost: float = 1_000_000.0
    rate: float = 0.02

    def __post_init__(self) -> None:
        """Refuse parameters with no economic meaning."""
        if not self.rate > 0.0:
            raise ForestModelError(f"discount rate must be positive, got {self.rate}")
        if self.price <= 0.0 or self.harvest_cost < 0.0 or self.planting_cost < 0.0:
            raise ForestModelError("price must be positive and costs non-negative")


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """The Faustmann rotation, its land value, and recommended thinning ages."""

    rotation_age: float
    lev: float
    volume_at_rotation: float
    thinning_ages: tuple[int, ...]
    mai_culmination_age: float


def _cr(t: FloatArray, a: float, k: float, p: float) -> FloatArray:
    """Chapman–Richards curve in the form curve_fit wants."""
    return a * (1.0 - np.exp(-k * t)) ** p


def fit_growth(
    age: npt.ArrayLike, volume: npt.ArrayLike, max_asymptote_ratio: float = 50.0
) -> GrowthCurve:
    """Least-squares Chapman–Richards fit to stand volumes observed at ages."""
    t = np.asarray(age, dtype=np.float64).ravel()
    v = np.asarray(volume, dtype=np.float64).ravel()
    if t.shape != v.shape:
        raise ForestModelError(f"{len(t)} ages but {len(v)} volumes")
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if len(t) < 3 or np.ptp(t) <= 0.0:
        raise ForestModelError("need at least 3 observations at 2 or more distinct ages")
    if np.any(t < 0) or np.any(v < 0):
        raise ForestModelError("ages and volumes must be non-negative")
    best: tuple[float, GrowthCurve] | None = None
    # The curve is poorly identified from a short window of ages; several starts avoid a
    # local minimum with an absurd asymptote.
    for k0 in (0.01, 0.03, 0.06):
        for p0 in (1.5, 3.0):
            a0 = max(float(v.max()) / (1.0 - np.exp(-k0 * float(t.max()))) ** p0, 1e-6)
            try:
                from scipy.optimize import curve_fit

                params, _ = curve_fit(
                    _cr,
                    t,
                    v,
                    p0=(a0, k0, p0),
                    bounds=(
                        [1e-6, 1e-4, 0.5],
                        [max(max_asymptote_ratio * float(v.max()), 1.0), 1.0, 10.0],
                    ),
                    maxfev=5000,
                )
            except (RuntimeError, ValueError):
                continue
            sse = float(np.sum((_cr(t, *params) - v) ** 2))
            if best is None or sse < best[0]:
                best = (sse, GrowthCurve(*map(float, params)))
    if best is None:
        raise ForestModelError("the Chapman–Richards fit did not converge")
    return best[1]


def fit_growth_from_increments(
    ages: npt.ArrayLike, increments: npt.ArrayLike, volume_at_first: float
) -> GrowthCurve:
    """Fit from yearly increments (e.g. dendrometer-derived) and the volume before the first."""
    t = np.asarray(ages, dtype=np.float64).ravel()
    inc = np.asarray(increments, dtype=np.float64).ravel()
    if t.shape != inc.shape:
        raise ForestModelError(f"{len(t)} ages but {len(inc)} increments")
    return fit_growth(t, volume_at_first + np.cumsum(inc))


def lev(curve: GrowthCurve, econ: Economics, age: FloatArray | float) -> FloatArray:
    """Land expectation value (Faustmann) of rotations of length `age`."""
    t = np.asarray(age, dtype=np.float64)
    growth = np.expm1(econ.rate * t)
    net = econ.price * curve.volume(t) - econ.harvest_cost - econ.planting_cost * (growth + 1.0)
    return net / growth


def faustmann_rotation(curve: GrowthCurve, econ: Economics) -> float:
    """Rotation age (years) that maximises LEV: grid search, then a bounded refinement."""
    from scipy.optimize import minimize_scalar  # scipy loads when a rotation is computed

    grid = np.arange(1.0, MAX_AGE, 0.25)
    values = lev(curve, econ, grid)
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(lambda t: -float(lev(curve, econ, t)), bounds=(lo, hi), method="bounded")
    return float(res.x)


def faustmann_foc_rotation(curve: GrowthCurve, econ: Economics) -> float:
    """Rotation from the first-order condition, by root finding (the analytic reference)."""
    from scipy.optimize import brentq  # scipy loads when a rotation is computed

    def foc(t: float) -> float:
        """Marginal value growth minus interest on timber and land."""
        value = econ.price * float(curve.volume(t)) - econ.harvest_cost
        return econ.price * float(curve.growth(t)) - econ.rate * (
            value + float(lev(curve, econ, t))
        )

    grid = np.arange(0.5, MAX_AGE, 0.01)
    signs = np.sign([foc(float(t)) for t in grid[::10]])
    # The optimum is the first sign change from positive (still worth waiting) to negative.
    changes = np.flatnonzero((signs[:-1] > 0) & (signs[1:] <= 0))
    if not len(changes):
        raise ForestModelError("no rotation age satisfies the first-order condition")
    j = int(changes[0]) * 10
    return float(brentq(foc, float(grid[j]), float(grid[min(j + 10, len(grid) - 1)]), xtol=1e-8))


def mai_culmination(curve: GrowthCurve) -> float:
    """Age of maximum mean annual increment V(t)/t (the maximum-volume rotation)."""
    from scipy.optimize import minimize_scalar  # scipy loads when a rotation is computed

    res = minimize_scalar(
        lambda t: -float(curve.volume(t)) / t, bounds=(1.0, MAX_AGE), method="bounded"
    )
    return float(res.x)


def plan_rotation(curve: GrowthCurve, econ: Economics, current_age: int = 0) -> RotationPlan:
    """Faustmann rotation plus thinning ages still ahead of `current_age`.

    Thinnings are a rule of thumb, not an optimum: the first when the current annual increment
    culminates (crowns close and competition starts), then every third of the remaining time.
    """
    rotation = faustmann_rotation(curve, econ)
    t = np.arange(1.0, rotation, 0.1)
    first = float(t[int(np.argmax(curve.growth(t)))]) if len(t) else rotation
    thinnings: list[int] = []
    if first < rotation - 5.0:
        step = (rotation - first) / 3.0
        thinnings = [round(first + i * step) for i in range(3)]
    ahead = tuple(a for a in thinnings if a >= current_age)
    return RotationPlan(
        rotation_age=rotation,
        lev=float(lev(curve, econ, rotation)),
        volume_at_rotation=float(curve.volume(rotation)),
        thinning_ages=ahead,
        mai_culmination_age=mai_culmination(curve),
    )

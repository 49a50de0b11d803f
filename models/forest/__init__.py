"""Forest stands: growth curves, Faustmann rotations, the species table and their serving.

The growth and rotation arithmetic (`models.forest.growth`) is re-exported here; the
scikit-learn regressor (`models.forest.regressor`) and the serving (`models.forest.service`)
are imported from their modules, so that importing the arithmetic loads neither.
"""

from models.forest.growth import (
    MAX_AGE,
    Economics,
    FloatArray,
    ForestModelError,
    GrowthCurve,
    RotationPlan,
    faustmann_foc_rotation,
    faustmann_rotation,
    fit_growth,
    fit_growth_from_increments,
    lev,
    mai_culmination,
    plan_rotation,
)

__all__ = [
    "MAX_AGE",
    "Economics",
    "FloatArray",
    "ForestModelError",
    "GrowthCurve",
    "RotationPlan",
    "faustmann_foc_rotation",
    "faustmann_rotation",
    "fit_growth",
    "fit_growth_from_increments",
    "lev",
    "mai_culmination",
    "plan_rotation",
]

"""Field agronomy from weather: degree days, growth stages, chill, VPD and disease risk.

Pure numpy and stdlib functions with no store access (`scab_watch`, the live scab alerts,
reads the store and is not imported here); every parameter's source is cited beside it and in
docs/field.md.
"""

from models.field.chill import chilling_hours, dynamic_portions, hours_per_portion, utah_units
from models.field.disease import (
    REVISED_MILLS_F,
    ScabInfection,
    WetnessRisk,
    WetnessRule,
    WetnessUnit,
    WetPeriod,
    scab_hours_required,
    scab_infections,
    wet_periods,
    wetness_risks,
)
from models.field.stages import (
    APPLE_BUD_BBCH,
    STAGE_TABLES,
    Stage,
    StageKey,
    StageTable,
    stage_at,
    stage_series,
    stage_table,
    stages_from_temperatures,
)
from models.field.thermal import (
    CROP_THERMAL,
    CropThermal,
    GddMethod,
    GddSeries,
    accumulate,
    daily_gdd,
    gdd_series,
    hourly_gdd,
    hourly_gdd_series,
    thermal_for,
)
from models.field.vpd import (
    actual_vapour_pressure,
    dew_point_c,
    saturation_vapour_pressure,
    vpd_kpa,
)

__all__ = [
    "APPLE_BUD_BBCH",
    "CROP_THERMAL",
    "REVISED_MILLS_F",
    "STAGE_TABLES",
    "CropThermal",
    "GddMethod",
    "GddSeries",
    "ScabInfection",
    "Stage",
    "StageKey",
    "StageTable",
    "WetPeriod",
    "WetnessRisk",
    "WetnessRule",
    "WetnessUnit",
    "accumulate",
    "actual_vapour_pressure",
    "chilling_hours",
    "daily_gdd",
    "dew_point_c",
    "dynamic_portions",
    "gdd_series",
    "hourly_gdd",
    "hourly_gdd_series",
    "hours_per_portion",
    "saturation_vapour_pressure",
    "scab_hours_required",
    "scab_infections",
    "stage_at",
    "stage_series",
    "stage_table",
    "stages_from_temperatures",
    "thermal_for",
    "utah_units",
    "vpd_kpa",
    "wet_periods",
    "wetness_risks",
]

"""Moved to `models.forest.service`; this name stays until every import uses the new one."""

from models.forest.service import (  # noqa: F401
    DEFAULT_ECONOMICS,
    YIELD_TABLES,
    ForestService,
    Recommendation,
    RotationError,
    StandGrowth,
    economics_for,
    fit_stand,
    inventory_start_ms,
    observations,
    recommend,
)

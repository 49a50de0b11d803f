"""Moved to `models.harvest.service`; this name stays until every import uses the new one."""

from models.harvest.service import (  # noqa: F401
    ANSWER_CACHE_ENTRIES,
    DEFAULT_YIELD_UNIT,
    EARLIEST,
    FORECAST_TTL_S,
    LATEST,
    MAX_SEASON_DAYS,
    MODEL_CACHE_ENTRIES,
    FieldForecast,
    ForecastService,
    ForecastStatus,
    finite,
    gdd_base_c,
    to_date,
)

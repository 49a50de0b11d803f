"""Moved to `models.stock.service`; this name stays until every import uses the new one."""

from models.stock.service import (  # noqa: F401
    HISTORY_DAYS,
    HORIZON_H,
    Basis,
    BinStatus,
    StockoutView,
    StockService,
    forecast_bin,
)

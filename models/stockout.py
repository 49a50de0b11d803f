"""Moved to `models.stock.stockout`; this name stays until every import uses the new one."""

from models.stock.stockout import (  # noqa: F401
    MS_PER_HOUR,
    StockoutError,
    StockoutForecast,
    StockoutForecaster,
    fit_profile,
    forecast_stockout,
    hourly_consumption,
    japanese_factory_holiday,
    naive_stockout,
)

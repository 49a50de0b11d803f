"""Moved to `models.stock.anomaly`; this name stays until every import uses the new one."""

from models.stock.anomaly import BinAnomalyDetector, StockAlert, StockAnomaly  # noqa: F401

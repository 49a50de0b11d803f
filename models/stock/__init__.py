"""Factory bins: stock-out forecasts, the bin anomaly detector and their serving.

`models.stock.stockout` forecasts when a bin runs empty, `models.stock.anomaly` watches a
bin's two channels for anomalies, and `models.stock.service` answers the API's stock routes.
"""

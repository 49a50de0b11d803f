"""Models: anomaly detection and forecasts (numpy, scikit-learn)."""

"""Causal univariate anomaly detection for sensor streams.

``StreamingDetector`` scores readings one at a time from the past only; ``score_csv`` scores a
``timestamp,value`` CSV file and appends an ``anomaly_score`` column.
"""

from models.anomaly.csvscore import CsvFormatError, parse_timestamp_ms, score_csv
from models.anomaly.detector import StreamingDetector

__all__ = ["CsvFormatError", "StreamingDetector", "parse_timestamp_ms", "score_csv"]

"""An OGC SensorThings API 1.1 (sensing part, read-only) over the store, under `/sta/v1.1`."""

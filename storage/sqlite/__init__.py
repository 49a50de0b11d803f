"""The SQLite store: one file, for a single Raspberry Pi or a laptop without InfluxDB."""

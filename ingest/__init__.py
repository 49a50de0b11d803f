"""Ingest: MQTT in, validation, InfluxDB out; a message is acknowledged only once stored."""

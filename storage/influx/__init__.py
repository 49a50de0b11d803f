"""The InfluxDB store: the v1 HTTP client, line protocol, InfluxQL and column answers."""

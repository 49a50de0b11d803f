"""Serving a service's Prometheus registry over HTTP (ingest, alerts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server


def serve_metrics(registry: CollectorRegistry, port: int, host: str, setting: str) -> None:
    """Expose /metrics on `port` (0 leaves it off); a taken port names the setting to change."""
    if not port:
        return
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror}); set {setting} to a free "
            "port (each process needs its own), or 0 for none"
        ) from exc

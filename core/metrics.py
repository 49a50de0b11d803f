"""A background service's own small HTTP server: /metrics, /healthz and /readyz.

Ingest, alerts and the notifier each serve their Prometheus registry here, with the same probes
as the API: `/healthz` answers while the process runs, `/readyz` only while the service can do
its work (its readiness check returns None; otherwise 503 with the reason as `detail`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

# None when ready, else why not (in English: it is read by operators and probes).
Readiness = Callable[[], str | None]


def _always_ready() -> str | None:
    return None


def serve_metrics(
    registry: CollectorRegistry,
    port: int,
    host: str,
    setting: str,
    ready: Readiness = _always_ready,
) -> ThreadingHTTPServer | None:
    """Serve /metrics, /healthz and /readyz on `host:port` (port 0 leaves it off) in a daemon
    thread; a taken port names the setting to change."""
    if not port:
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                self._json(200, {"status": "ok"})
            elif path == "/readyz":
                try:
                    problem = ready()
                except Exception as exc:  # a failing check is a reason, never a dead server
                    problem = f"readiness check failed: {exc}"
                if problem is None:
                    self._json(200, {"status": "ready"})
                else:
                    self._json(503, {"detail": problem})
            else:
                self._json(404, {"detail": "not found: /metrics, /healthz or /readyz"})

        def _json(self, status: int, body: dict[str, str]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Probes every few seconds would drown the service's own log.
            return

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise OSError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror}); set {setting} to a free "
            "port (each process needs its own), or 0 for none"
        ) from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"status-{port}", daemon=True).start()
    log.info("metrics and probes on http://%s:%d (/metrics, /healthz, /readyz)", host, port)
    return server

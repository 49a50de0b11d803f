"""Prometheus metrics, structured access logs and the headers every answer carries.

One ASGI middleware around the app does all three, so that a request pays for one layer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("dashboard.access")


class ApiMetrics:
    """The API's metrics in a registry of their own, so that several apps can coexist in tests."""

    def __init__(self) -> None:
        """Create the registry and its metrics."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shinshu_api_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shinshu_api_request_seconds",
            "Time to the first byte of the answer, by route template",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )
        self.export_rows = Counter(
            "shinshu_api_export_rows",
            "Rows streamed by research exports, by format",
            ["format"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "shinshu_api_rate_limited",
            "Requests of a valid key refused with 429: the key's rate budget is spent",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "shinshu_api_auth_failures",
            "Requests answered 401, by reason: no key (missing) or a wrong or revoked one",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("missing", "rejected"):
            self.auth_failures.labels(reason)
        self.auth_throttled = Counter(
            "shinshu_api_auth_throttled",
            "Requests refused with 429 before their key was looked up: their address sent too "
            "many wrong keys",
            registry=self.registry,
        )


# Answers that set no caching of their own (everything but the web UI's files) hold tenant data
# or live state: no cache, shared or private, may keep them.
_NO_STORE = (b"cache-control", b"no-store")
# Browsers must never guess another type than the one declared (e.g. run a JSON body as script).
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def _secured(message: Message) -> Message:
    """The `http.response.start` message with the headers every answer carries added."""
    headers = list(message.get("headers", ()))
    names = {name.lower() for name, _ in headers}
    if _NOSNIFF[0] not in names:
        headers.append(_NOSNIFF)
    if _NO_STORE[0] not in names:
        headers.append(_NO_STORE)
    return {**message, "headers": headers}


class AccessLogMiddleware:
    """Logs a JSON line per request (never headers or queries), counts it, adds safe headers."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        """Wrap `app`."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it once the answer has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self._record(scope, status, time.perf_counter() - began)
                message = _secured(message)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            self._record(scope, 500, time.perf_counter() - began)
            raise

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route_template(scope)
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        state: dict[str, Any] = scope.get("state", {})
        if access_log.isEnabledFor(logging.INFO):
            # The path only: a query string could hold anything a client pasted into it.
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "ms": round(seconds * 1000, 2),
                "key_id": state.get("key_id"),
                "tenant": state.get("tenant"),
            }
            # A line for people; with JSON logs the fields are the object's own, not a string.
            access_log.info(
                "%s %s %s %.1f ms key %s",
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
                fields["key_id"] or "-",
                extra={"fields": fields},
            )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths are not used as labels: a scanner would blow up the series count.
    return str(path) if path else "unmatched"

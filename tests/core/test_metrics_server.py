"""A background service's status server: /metrics, /healthz, and /readyz with its reason."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from core.metrics import serve_metrics
from shinshu.localservices import free_port


def test_probes_and_metrics_answer_as_documented() -> None:
    """/metrics has the registry; /healthz is 200; /readyz follows the check, with its reason."""
    registry = CollectorRegistry()
    Counter("shinshu_test_things", "Things", registry=registry).inc(3)
    problem: list[str | None] = ["not subscribed at the MQTT broker"]
    port = free_port()
    server = serve_metrics(registry, port, "127.0.0.1", "SHINSHU_TEST_PORT", lambda: problem[0])
    assert server is not None
    base = f"http://127.0.0.1:{port}"
    try:
        assert "shinshu_test_things_total 3.0" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        waiting = httpx.get(f"{base}/readyz")
        assert waiting.status_code == 503
        assert waiting.json() == {"detail": "not subscribed at the MQTT broker"}
        problem[0] = None
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{base}/other").status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_check_is_not_ready_rather_than_an_error() -> None:
    """A check that raises gives 503 with the reason; the server keeps answering."""

    def broken() -> str | None:
        raise ConnectionError("store unreachable")

    port = free_port()
    server = serve_metrics(CollectorRegistry(), port, "127.0.0.1", "SHINSHU_X", broken)
    assert server is not None
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz")
        assert answer.status_code == 503 and "store unreachable" in answer.json()["detail"]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_names_the_setting() -> None:
    """The error says which setting to change."""
    port = free_port()
    first = serve_metrics(CollectorRegistry(), port, "127.0.0.1", "SHINSHU_A_PORT")
    try:
        with pytest.raises(OSError, match="SHINSHU_B_PORT"):
            serve_metrics(CollectorRegistry(), port, "127.0.0.1", "SHINSHU_B_PORT")
    finally:
        assert first is not None
        first.shutdown()
        first.server_close()


def test_port_zero_serves_nothing() -> None:
    """0 leaves the server off."""
    assert serve_metrics(CollectorRegistry(), 0, "127.0.0.1", "SHINSHU_X") is None

"""Alert notification benchmark: from an alert stored to its webhook received.

A private InfluxDB, the notifier as a real process (`shinshu notify run`, default settings but
its metrics port), and a real HTTP receiver that verifies each signature. A writer stores
alerts at a steady rate (1,000 a minute by default) as the alerts service does; the latency of
each is the time from its write returning to the receiver taking its webhook. Detection (the
alerts service turning readings into an alert) is not part of this figure: `bench/ingest.py`
measures the reading path.
Target: p99 <= 2 s at 1,000 alerts per minute.

Usage: python bench/alerts.py [--minutes 2] [--rate 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from notify.dispatcher import notification_key  # noqa: E402
from notify.subscriptions import ChannelKind, Severity, Subscription, Subscriptions  # noqa: E402
from notify.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from storage.alert_types import Alert, AlertKind  # noqa: E402
from storage.alerts import AlertStore  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402

SECRET = os.urandom(24).hex()
TARGET_P99_S = 2.0


class Received:
    """Arrival time of each key (the first), and signatures that did not verify."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.bad = 0
        self.lock = threading.Lock()


def _receiver(port: int, got: Received) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.time()
            ok = verify(SECRET.encode(), self.headers.get(SIGNATURE_HEADER, ""), body, now_s=now)
            with got.lock:
                if ok:
                    got.at.setdefault(self.headers.get(IDEMPOTENCY_HEADER, ""), now)
                else:
                    got.bad += 1
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="alerts per minute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        got = Received()
        receiver_port = free_port()
        server = _receiver(receiver_port, got)
        data = tmp / "data"
        subs = Subscriptions(data / "notifications.sqlite3")
        sub = subs.add(
            Subscription(
                "",
                "bench",
                "bench",
                ChannelKind.WEBHOOK,
                f"http://127.0.0.1:{receiver_port}/hook",
                min_severity=Severity.INFO,
                secret=SECRET,
            ),
            now_ms=int(time.time() * 1000) - 1000,
        )
        subs.close()
        store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), "bench")
        store.ensure_database()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
        env.update(
            {
                "SHINSHU_INFLUX_URL": influx.url,
                "SHINSHU_INFLUX_DB": "bench",
                "SHINSHU_DATA_DIR": str(data),
                "SHINSHU_NOTIFY_METRICS_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        log = tmp / "notify.log"
        with log.open("ab") as out:
            notifier = subprocess.Popen(
                [sys.executable, "-m", "shinshu.cli", "notify", "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(3)
            alerts = AlertStore(store)
            written: dict[str, float] = {}
            interval = 60.0 / args.rate
            count = int(args.minutes * args.rate)
            began = time.monotonic()
            for i in range(count):
                due = began + i * interval
                time.sleep(max(0.0, due - time.monotonic()))
                now_ms = int(time.time() * 1000)
                alert = Alert(
                    "bench",
                    "works",
                    f"gw-{i % 50}",
                    "w1",
                    AlertKind.DROP,
                    now_ms,
                    0.9,
                    "bench",
                    now_ms,
                )
                alerts.write([alert])
                written[notification_key(alert.id, sub.id)] = time.time()
            deadline = time.monotonic() + 60
            while len(got.at) < count and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            notifier.terminate()
            notifier.wait(30)
            server.shutdown()
            influx.stop()
        latencies = [got.at[k] - t for k, t in written.items() if k in got.at]
        missing = count - len(latencies)
        p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
        print(f"alerts written: {count} at {args.rate:.0f}/min over {args.minutes:g} min")
        print(f"webhooks received: {len(latencies)} (missing {missing}, bad signatures {got.bad})")
        print(
            f"stored → webhook received: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms, mean {statistics.fmean(latencies) * 1000:.0f} ms"
        )
        verdict = "met" if p99 <= TARGET_P99_S and missing == 0 else "NOT met"
        print(f"target p99 <= {TARGET_P99_S:.0f} s with nothing missing: {verdict}")


if __name__ == "__main__":
    main()

"""Alert notification benchmark: from a reading to its webhook received.

Real processes throughout: a private Mosquitto (each device with its own account) and InfluxDB,
`shinshu ingest`, `shinshu alerts`, `shinshu notify run` (default settings but their metrics
ports) and an HTTP receiver that verifies each webhook's signature.

- `--path reading` (default): simulated devices publish a reading of each of their sensors
  every 10 s. An operator's threshold rule says "air temperature above 30 °C for 1 min"; each
  sensor is hot for 70 s of every 2 min, so every sensor raises one alert every 2 minutes and
  `--rate` alerts a minute take twice as many sensors. The latency of an alert is the time
  from publishing the message whose reading completed the rule's minute to the receiver taking
  its webhook. The publish comes before ingest has stored the reading, so this is an upper
  bound of "reading stored → webhook received".
- `--path alert`: alerts written straight into the store, as the alerts service writes them,
  to their webhooks: the notifier alone.

The first `--warmup` seconds are not counted (each sensor's rule tracker is warmed up from the
store the first time it is seen). Target: p99 <= 2 s at 1,000 alerts per minute.

Usage: python bench/alerts.py [--path reading|alert] [--minutes 3] [--rate 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
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

from bench._ingest import Access, access, start_ingest  # noqa: E402
from edge.mqtt import Publisher, close_client, connect, make_client  # noqa: E402
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch  # noqa: E402
from identity.accounts import ServiceRole  # noqa: E402
from notify.dispatcher import notification_key  # noqa: E402
from notify.subscriptions import ChannelKind, Severity, Subscription, Subscriptions  # noqa: E402
from notify.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify  # noqa: E402
from shinshu.localservices import LocalInfluxDB, free_port  # noqa: E402
from storage.alert_types import Alert, AlertKind  # noqa: E402
from storage.alerts import AlertStore  # noqa: E402
from storage.influx.client import InfluxStore  # noqa: E402
from storage.rules import Comparison, ThresholdRule, write_rule  # noqa: E402

SECRET = os.urandom(24).hex()
TARGET_P99_S = 2.0
TENANT = "bench"
SITE = "orchard"
DB = "bench"
SENSORS_PER_DEVICE = 100
STEP_S = 10.0
# A sensor's cycle, in steps: hot for HOT readings (spanning the rule's minute), then cool.
CYCLE, HOT = 12, 7
RULE = ThresholdRule("hot", "高温", SensorKind.AIR_TEMPERATURE, Comparison.ABOVE, 30.0, 1.0)


class Received:
    """Arrival time and body of each key (the first), and signatures that did not verify."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.bodies: dict[str, dict[str, object]] = {}
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
                    key = self.headers.get(IDEMPOTENCY_HEADER, "")
                    if key not in got.at:
                        got.at[key] = now
                        got.bodies[key] = json.loads(body)
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


def _subscribe(data: Path, receiver_port: int) -> Subscription:
    subs = Subscriptions(data / "notifications.sqlite3")
    sub = subs.add(
        Subscription(
            "",
            TENANT,
            "bench",
            ChannelKind.WEBHOOK,
            f"http://127.0.0.1:{receiver_port}/hook",
            min_severity=Severity.INFO,
            secret=SECRET,
        ),
        now_ms=int(time.time() * 1000) - 1000,
    )
    subs.close()
    return sub


def _service(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shinshu.cli", *command.split()],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _base_env(influx: LocalInfluxDB, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(
        {
            "SHINSHU_INFLUX_URL": influx.url,
            "SHINSHU_INFLUX_DB": DB,
            "SHINSHU_DATA_DIR": str(data),
            "SHINSHU_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _report(latencies: list[float], expected: int, got: Received, label: str) -> None:
    missing = expected - len(latencies)
    if not latencies:
        print(f"no webhook arrived ({expected} expected)")
        return
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    print(f"webhooks counted: {len(latencies)} (missing {missing}, bad signatures {got.bad})")
    print(
        f"{label}: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms, mean {statistics.fmean(latencies) * 1000:.0f} ms"
    )
    verdict = "met" if p99 <= TARGET_P99_S and missing == 0 else "NOT met"
    print(f"target p99 <= {TARGET_P99_S:.0f} s with nothing missing: {verdict}")


def _publish(
    where: Access, devices: int, sensors: int, *, seconds: float, warmup: float
) -> tuple[dict[tuple[str, int], float], int, tuple[float, float]]:
    """Publish every device's readings on the 10 s grid (devices spread across it) for
    `seconds`; returns the publish time of each (device, reading time), the alerts expected
    after the warm-up, the wall time the warm-up ended and the span alerts were counted in."""
    names = [f"pi-{d:03d}" for d in range(devices)]
    clients = []
    for name in names:
        endpoint = where.device(TENANT, SITE, name)
        client = make_client(endpoint, endpoint.username or name)
        publisher = Publisher(client, window=200)
        connect(client, endpoint)
        clients.append((name, client, publisher))
    sent: dict[tuple[str, int], float] = {}
    base_s = math.ceil(time.time()) + 1.0
    counted_from = base_s + warmup
    expected = 0
    steps = int(seconds / STEP_S)
    try:
        for k in range(steps):
            for d, (name, _client, publisher) in enumerate(clients):
                at = base_s + k * STEP_S + d * STEP_S / devices
                time.sleep(max(0.0, at - time.time()))
                ts_ms = round(at * 1000)
                readings = []
                for j in range(min(SENSORS_PER_DEVICE, sensors - d * SENSORS_PER_DEVICE)):
                    phase = (k - (d * SENSORS_PER_DEVICE + j)) % CYCLE
                    hot = phase < HOT
                    if phase == HOT - 1 and k >= HOT - 1 and at >= counted_from:
                        expected += 1  # this reading completes a minute above 30 °C
                    value = 32.0 + 0.1 * phase if hot else 20.0
                    readings.append(Reading(f"t{j:03d}", SensorKind.AIR_TEMPERATURE, ts_ms, value))
                payload = encode_batch(name, k, ts_ms, readings)
                sent[name, ts_ms] = time.time()
                publisher.publish(DeviceTopic(TENANT, SITE, name).topic(Channel.UP), payload)
        for _name, _client, publisher in clients:
            publisher.flush(30)
    finally:
        for _name, client, _publisher in clients:
            close_client(client)
    first = max(HOT - 1, math.ceil(warmup / STEP_S))
    return sent, expected, (counted_from, (steps - first) * STEP_S)


def reading_path(minutes: float, rate: float, warmup: float) -> None:
    """Readings → ingest and alerts → threshold alert → notifier → webhook."""
    sensors = int(rate * CYCLE * STEP_S / 60)
    devices = math.ceil(sensors / SENSORS_PER_DEVICE)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        where = access("auth", tmp)
        got = Received()
        receiver_port = free_port()
        server = _receiver(receiver_port, got)
        data = tmp / "data"
        _subscribe(data, receiver_port)
        store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), DB)
        store.ensure_database()
        write_rule(store, TENANT, RULE, by="bench", change="create")
        processes = []
        try:
            ingest, _port, _up = start_ingest(
                where, influx, db=DB, client_id="bench-ingest", log=tmp / "ingest.log"
            )
            processes.append(ingest)
            alerts_env = {
                **_base_env(influx, data),
                **where.service_env("bench-alerts", tmp, ServiceRole.ALERTS),
                "SHINSHU_ALERTS_CLIENT_ID": "bench-alerts",
                "SHINSHU_ALERTS_METRICS_PORT": str(free_port()),
            }
            processes.append(_service("alerts", alerts_env, tmp / "alerts.log"))
            notify_port = str(free_port())
            notify_env = {**_base_env(influx, data), "SHINSHU_NOTIFY_METRICS_PORT": notify_port}
            processes.append(_service("notify run", notify_env, tmp / "notify.log"))
            time.sleep(4)
            sent, expected, (counted_from, span_s) = _publish(
                where, devices, sensors, seconds=warmup + minutes * 60, warmup=warmup
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with got.lock:
                    counted = sum(1 for b in got.bodies.values() if _raised_s(b) >= counted_from)
                if counted >= expected:
                    break
                time.sleep(0.5)
        finally:
            for proc in processes:
                proc.terminate()
            for proc in processes:
                proc.wait(30)
            server.shutdown()
            where.broker.stop()
            influx.stop()
        latencies = []
        for key, body in got.bodies.items():
            alert = body["alert"]
            assert isinstance(alert, dict)
            raised_ms = round(_raised_s(body) * 1000)
            if raised_ms / 1000 < counted_from:
                continue
            published = sent.get((str(alert["device"]), raised_ms))
            if published is not None:
                latencies.append(got.at[key] - published)
        print(
            f"{sensors} sensors on {devices} devices, a reading every {STEP_S:g} s; rule "
            f"{RULE.kind.value} above {RULE.threshold:g} for {RULE.duration_min:g} min; "
            f"{expected} alerts expected in {span_s:g} s ({60 * expected / span_s:.0f}/min) "
            f"after {warmup:g} s of warm-up"
        )
        _report(latencies, expected, got, "reading published → webhook received")


def _raised_s(body: dict[str, object]) -> float:
    alert = body["alert"]
    assert isinstance(alert, dict)
    return dt.datetime.fromisoformat(str(alert["raised_at"])).timestamp()


def alert_path(minutes: float, rate: float) -> None:
    """Alerts written to the store → notifier → webhook."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        got = Received()
        receiver_port = free_port()
        server = _receiver(receiver_port, got)
        data = tmp / "data"
        sub = _subscribe(data, receiver_port)
        store = InfluxStore(httpx.Client(base_url=influx.url, timeout=60), DB)
        store.ensure_database()
        env = {**_base_env(influx, data), "SHINSHU_NOTIFY_METRICS_PORT": str(free_port())}
        notifier = _service("notify run", env, tmp / "notify.log")
        written: dict[str, float] = {}
        count = int(minutes * rate)
        try:
            time.sleep(3)
            alerts = AlertStore(store)
            interval = 60.0 / rate
            began = time.monotonic()
            for i in range(count):
                time.sleep(max(0.0, began + i * interval - time.monotonic()))
                now_ms = int(time.time() * 1000)
                alert = Alert(
                    TENANT, "works", f"gw-{i % 50}", "w1", AlertKind.DROP, now_ms, 0.9, "x", now_ms
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
        print(f"alerts written: {count} at {rate:.0f}/min over {minutes:g} min")
        _report(latencies, count, got, "alert stored → webhook received")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=("reading", "alert"), default="reading")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="alerts per minute")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not counted")
    args = parser.parse_args()
    if args.path == "reading":
        reading_path(args.minutes, args.rate, args.warmup)
    else:
        alert_path(args.minutes, args.rate)


if __name__ == "__main__":
    main()

"""This project beside Node-RED, on one Mosquitto and one InfluxDB, in one run.

Node-RED 4 with node-red-contrib-influxdb is installed from npm into a cache folder (once) and
runs a flow that does what such an installation does: an MQTT-in node (QoS 1) on the devices'
topic, a function node turning each batch's readings into points, and an "influxdb batch" node
writing them. It acknowledges on receipt and validates nothing. This project's ingest workers
(a shared-subscription group) validate every reading and acknowledge only after InfluxDB
answered 204.

For each size (1, 10 and 100 readings per message) the same publisher processes send the same
pre-encoded messages, first to Node-RED, then to this project (each alone on the broker), and
the time is taken until InfluxDB holds every reading, read the same way for both (a count
query every half second). The publishers' own rate, publishing the same messages with nothing
subscribed, is printed beside, so that a result limited by the publishers shows as such. Each
publisher process feeds a `mosquitto_pub -l` (Debian's `mosquitto-clients`, `bench._mospub`)
when it is installed: paho publishers reach only about 10,000 messages/s here, below this
project's rate at one reading a message (`--publisher python` uses them anyway).

A peer that loses messages (Node-RED acknowledges before it writes) has no meaningful "rate"
at that load, so for the sizes in `--sustained` each peer is also offered paced streams
(`--trial-seconds` long, the publishers spacing their messages evenly) at falling rates, from
the publishers' own rate down, until it stores every reading within 2 s of the last publish:
the highest such rate is its sustained, loss-free rate (the throughput of RFC 2544, 26.1: the
fastest rate at which no frame is lost), and the ratio of those is printed too.

Usage: python bench/peers.py [--messages 1:60000,10:20000,100:5000] [--publishers 4]
    [--workers 2] [--sustained 1] [--trial-seconds 6] [--publisher compiled|python]
    [--cache ~/.cache/shinshu-bench/node-red]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import _mospub as mospub
from bench._ingest import T0_MS, Access, access, publish_all, start_ingest
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from identity.accounts import ServiceRole
from shinshu.localservices import LocalInfluxDB, free_port
from storage.influx.client import InfluxStore

NODE_RED = "node-red@4"
NODE_RED_INFLUX = "node-red-contrib-influxdb@0.7"
TENANT = "bench"
MEASUREMENT = SensorKind.SOIL_MOISTURE.value
DEFAULT_SIZES = "1:60000,10:20000,100:5000"
# A paced trial passes when every reading is stored within this long after the last publish.
KEEP_UP_S = 2.0
# Each trial's readings get their own hour of timestamps, counted apart from the others'.
TRIAL_SPACING_MS = 3_600_000
# Paced trials from the publishers' own rate down: 0.7 ** 11 reaches 2 % of it.
STEPS = 12

# The function node: one point per reading, tags as this project writes them.
_FUNCTION = """
const parts = msg.topic.split('/');
const batch = msg.payload;
msg.payload = batch.readings.map((r) => ({
  measurement: r.k,
  fields: { value: r.v },
  tags: { tenant: parts[2], site: parts[3], device: parts[4], sensor: r.s || r.k },
  timestamp: new Date(r.t),
}));
return msg;
"""


def install_node_red(cache: Path) -> Path:
    """node-red and node-red-contrib-influxdb under `cache` (npm, once); the node-red script."""
    script = cache / "node_modules" / ".bin" / "node-red"
    if not script.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"installing {NODE_RED} and {NODE_RED_INFLUX} into {cache} ...", flush=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(cache),
                NODE_RED,
                NODE_RED_INFLUX,
            ],
            check=True,
        )
    version = json.loads((cache / "node_modules/node-red/package.json").read_text())["version"]
    print(f"Node-RED {version} from {cache}")
    return script


def _flows(broker_port: int, username: str, influx_port: int, db: str) -> list[dict[str, Any]]:
    return [
        {"id": "tab", "type": "tab", "label": "ingest"},
        {
            "id": "broker",
            "type": "mqtt-broker",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": username,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": True,
        },
        {
            "id": "db",
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": str(influx_port),
            "protocol": "http",
            "database": db,
            "name": "bench",
            "usetls": False,
            "influxdbVersion": "1.x",
        },
        {
            "id": "in",
            "type": "mqtt in",
            "z": "tab",
            "topic": f"shinshu/v1/{TENANT}/+/+/up",
            "qos": "1",
            "datatype": "json",
            "broker": "broker",
            "wires": [["points"]],
        },
        {"id": "points", "type": "function", "z": "tab", "func": _FUNCTION, "wires": [["out"]]},
        {
            "id": "out",
            "type": "influxdb batch",
            "z": "tab",
            "influxdb": "db",
            "precision": "ms",
            "retentionPolicy": "",
            "wires": [],
        },
    ]


def start_node_red(
    script: Path, where: Access, influx: LocalInfluxDB, db: str, folder: Path
) -> subprocess.Popen[bytes]:
    """Node-RED running the flow above with its own broker account, until it has subscribed."""
    assert where.accounts is not None
    username = "bench-node-red"
    issued = where.accounts.add_service(ServiceRole.INGEST, username, actor="bench")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flows.json").write_text(
        json.dumps(_flows(where.broker.port, username, influx.port, db))
    )
    # Node-RED keeps credentials beside the flow; with no credential secret the file is plain
    # JSON, so it is written 0600 in the bench's private temporary folder.
    creds = folder / "flows_cred.json"
    creds.touch(mode=0o600)
    creds.write_text(json.dumps({"broker": {"user": username, "password": issued.secret}}))
    port = free_port()
    (folder / "settings.js").write_text(
        f"module.exports = {{ uiPort: {port}, uiHost: '127.0.0.1', flowFile: 'flows.json', "
        "credentialSecret: false, logging: { console: { level: 'warn' } } };\n"
    )
    log = folder / "node-red.log"
    proc = subprocess.Popen(
        [str(script), "--userDir", str(folder), "--settings", str(folder / "settings.js")],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    # Subscribed once a probe message is stored (the probe is another measurement).
    probe = DeviceTopic(TENANT, "probe", "probe").topic(Channel.UP)
    reading = Reading("air", SensorKind.AIR_TEMPERATURE, T0_MS, 1.0)
    store = InfluxStore(httpx.Client(base_url=influx.url, timeout=30), db)
    store.ensure_database()
    endpoint = where.device(TENANT, "probe", "probe")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        publish_all(endpoint, probe, [encode_batch("probe", 0, T0_MS, [reading])])
        if _count(influx, db, SensorKind.AIR_TEMPERATURE.value) > 0:
            return proc
        time.sleep(1.0)
    proc.terminate()
    raise RuntimeError(f"Node-RED did not store a probe message; see {log}")


def _count(
    influx: LocalInfluxDB,
    db: str,
    measurement: str = MEASUREMENT,
    between_ms: tuple[int, int] | None = None,
) -> int:
    where = ""
    if between_ms is not None:
        where = f" WHERE time >= {between_ms[0]}ms AND time < {between_ms[1]}ms"
    answer = httpx.get(
        f"{influx.url}/query",
        params={"db": db, "q": f'SELECT count("value") FROM "{measurement}"{where}'},
        timeout=60,
    ).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _bodies(device: str, messages: int, per_message: int, offset: int) -> list[bytes]:
    """Batches of readings 1 ms apart, each sent just after its last reading (a send time
    before them would put them in the future, and ingest refuses readings over 60 s ahead)."""
    kind = SensorKind.SOIL_MOISTURE
    out = []
    for seq in range(messages):
        base = T0_MS + offset + seq * per_message
        readings = [Reading(kind.value, kind, base + i, 20.0 + (i % 7)) for i in range(per_message)]
        out.append(encode_batch(device, seq, base + per_message, readings))
    return out


def _publisher(
    endpoint: Any,
    device: str,
    messages: int,
    per_message: int,
    *,
    ready: Any,
    go: Any,
    rate: float | None = None,
    offset: int = 0,
    compiled: bool = False,
) -> None:
    topic = DeviceTopic(TENANT, "peers", device).topic(Channel.UP)
    bodies = _bodies(device, messages, per_message, offset)
    if not compiled:
        ready.release()
        go.wait()
        publish_all(endpoint, topic, bodies, rate=rate)
        return
    with mospub.started(endpoint, topic) as proc:
        ready.release()
        go.wait()
        mospub.feed(proc, bodies, rate)


def publish_from(
    where: Access,
    publishers: int,
    messages: int,
    per_message: int,
    *,
    rate: float | None = None,
    offset: int = 0,
    compiled: bool = False,
) -> float:
    """`messages` in total from `publishers` processes, each its own device, as fast as they can
    or at `rate` messages/s together (each through `mosquitto_pub` when `compiled`); seconds
    taken until every message was acknowledged."""
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    share = messages // publishers
    each = None if rate is None else rate / publishers
    procs = [
        ctx.Process(
            target=_publisher,
            args=(where.device(TENANT, "peers", f"p{i}"), f"p{i}", share, per_message),
            kwargs={
                "ready": ready,
                "go": go,
                "rate": each,
                "offset": offset,
                "compiled": compiled,
            },
        )
        for i in range(publishers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    began = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return time.perf_counter() - began


def wait_count(
    influx: LocalInfluxDB, db: str, total: int, began: float, *, stall_s: float = 30.0
) -> tuple[float, int]:
    """Seconds from `began` until `db` holds `total` readings (a count query every half second),
    and the count. A count that stops growing for `stall_s` ends the wait: the time of its last
    growth and what it holds then (a peer whose writes failed has lost the rest)."""
    last, last_at = -1, time.perf_counter()
    while True:
        held = _count(influx, db)
        now = time.perf_counter()
        if held >= total:
            return now - began, held
        if held > last:
            last, last_at = held, now
        elif now - last_at > stall_s:
            return last_at - began, held
        time.sleep(0.5)


@contextmanager
def running_peer(
    peer: str, *, script: Path, influx: LocalInfluxDB, tmp: Path, name: str, workers: int
) -> Iterator[tuple[Access, str]]:
    """A fresh broker with `peer` (Node-RED, or this project's workers) subscribed: the broker's
    access and the database the peer writes."""
    (tmp / name).mkdir()
    where = access("auth", tmp / name)
    db = f"peers_{name.replace('-', '_')}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if peer == "node-red":
            procs.append(start_node_red(script, where, influx, db, tmp / f"nr-{name}"))
        else:
            for i in range(workers):
                proc, _, _ = start_ingest(
                    where,
                    influx,
                    db=db,
                    client_id=f"peers-{name}-{i}",
                    log=tmp / f"ingest-{name}-{i}.log",
                    group="peers" if workers > 1 else None,
                )
                procs.append(proc)
        yield where, db
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        if where.accounts is not None:
            where.accounts.registry.close()
        where.broker.stop()


def _peer_logs(peer: str, tmp: Path, name: str, workers: int) -> list[Path]:
    if peer == "node-red":
        return [tmp / f"nr-{name}" / "node-red.log"]
    return [tmp / f"ingest-{name}-{i}.log" for i in range(workers)]


def run_size(
    *,
    script: Path,
    influx: LocalInfluxDB,
    tmp: Path,
    per_message: int,
    messages: int,
    publishers: int,
    workers: int,
    compiled: bool,
) -> tuple[float, float, float]:
    """(publishers alone, Node-RED, this project) in readings per second for one size."""
    total = messages // publishers * publishers * per_message
    # The publishers alone: a broker with nothing subscribed acknowledges and drops.
    (tmp / f"alone-{per_message}").mkdir()
    alone = access("auth", tmp / f"alone-{per_message}")
    try:
        publish_s = publish_from(alone, publishers, messages, per_message, compiled=compiled)
    finally:
        alone.broker.stop()
    results = []
    for peer in ("node-red", "shinshu"):
        name = f"{peer}-{per_message}"
        with running_peer(
            peer, script=script, influx=influx, tmp=tmp, name=name, workers=workers
        ) as (where, db):
            began = time.perf_counter()
            publish_from(where, publishers, messages, per_message, compiled=compiled)
            seconds, held = wait_count(influx, db, total, began)
        if held < total:
            print(
                f"  {peer} at {per_message} per message stored {held:,} of {total:,} "
                f"readings and no more: the rest is lost (see its log); its rate is of "
                "what it stored"
            )
            for log in _peer_logs(peer, tmp, name, workers):
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                print(f"    last lines of {log.name}:", *lines[-5:], sep="\n      ")
        results.append(held / seconds)
    return total / publish_s, results[0], results[1]


def sustained_rate(
    peer: str,
    *,
    start: float,
    script: Path,
    influx: LocalInfluxDB,
    tmp: Path,
    per_message: int,
    publishers: int,
    workers: int,
    trial_s: float,
    compiled: bool,
) -> float:
    """The highest paced rate (messages/s, as sent) at which `peer` stores every reading within
    KEEP_UP_S of the last publish: from `start` (the publishers' own rate) down by 0.7 a step
    until one passes, then two halvings of the gap to the lowest that failed. 0 when none of
    STEPS passes."""
    trials = [0]

    def passes(rate: float) -> float:
        """The rate the publishers achieved if every reading was stored in time, else 0."""
        # A fresh broker and peer each time: a peer that fell behind (or ran out of file
        # handles) in one trial must not fail the next.
        trials[0] += 1
        name = f"{peer}-{per_message}-paced-{trials[0]}"
        messages = max(int(rate * trial_s) // publishers, 1) * publishers
        total = messages * per_message
        offset = trials[0] * TRIAL_SPACING_MS
        span = (T0_MS + offset, T0_MS + offset + TRIAL_SPACING_MS)
        with running_peer(
            peer, script=script, influx=influx, tmp=tmp, name=name, workers=workers
        ) as (where, db):
            seconds = publish_from(
                where,
                publishers,
                messages,
                per_message,
                rate=rate,
                offset=offset,
                compiled=compiled,
            )
            deadline = time.perf_counter() + KEEP_UP_S
            held = _count(influx, db, between_ms=span)
            while held < total and time.perf_counter() < deadline:
                time.sleep(0.1)
                held = _count(influx, db, between_ms=span)
        ok = held >= total
        # What the publishers managed, if they fell short of the rate asked of them.
        sent = min(rate, messages / seconds)
        print(
            f"    {peer}, {per_message}/message, offered {rate:10,.0f} msg/s "
            f"(sent {sent:,.0f}/s) for {trial_s:g} s: {held:,} of {total:,} readings stored "
            f"in time -> {'pass' if ok else 'fail'}",
            flush=True,
        )
        return sent if ok else 0.0

    best, failed, rate = 0.0, None, start
    for _ in range(STEPS):
        best = passes(rate)
        if best:
            break
        failed, rate = rate, rate * 0.7
    for _ in range(2):
        if not best or failed is None:
            break
        middle = (best + failed) / 2
        sent = passes(middle)
        if sent:
            best = max(best, sent)
        else:
            failed = middle
    return best


def main() -> None:
    """Install Node-RED if needed, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default=DEFAULT_SIZES, help="readings:messages,...")
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sustained", default="1", help="sizes (readings/message) to find loss-free rates of"
    )
    parser.add_argument("--trial-seconds", type=float, default=6.0)
    parser.add_argument(
        "--publisher",
        choices=["compiled", "python"],
        default="compiled" if mospub.available() else "python",
        help="mosquitto_pub (from mosquitto-clients; the default when installed) or paho",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("~/.cache/shinshu-bench/node-red").expanduser()
    )
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in part.split(":")) for part in args.messages.split(",")]
    paced = {int(x) for x in args.sustained.split(",") if x}
    script = install_node_red(args.cache)
    compiled = args.publisher == "compiled"
    print(
        f"machine: {os.cpu_count()} cores; {args.publishers} publisher processes "
        f"({'mosquitto_pub' if compiled else 'paho'}); "
        f"this project with {args.workers} ingest workers"
    )
    if not mospub.available():
        print("  (apt-get install mosquitto-clients for the compiled publisher)")
    common: dict[str, Any] = {
        "script": script,
        "publishers": args.publishers,
        "workers": args.workers,
        "compiled": compiled,
    }
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        rows = []
        steady: dict[int, tuple[float, float, float]] = {}
        try:
            for per_message, messages in sizes:
                rows.append(
                    (
                        per_message,
                        *run_size(
                            influx=influx,
                            tmp=tmp,
                            per_message=per_message,
                            messages=messages,
                            **common,
                        ),
                    )
                )
                per, alone, red, ours = rows[-1]
                print(
                    f"  {per:>3} readings/message: publishers alone {alone:10,.0f}/s, "
                    f"Node-RED {red:10,.0f}/s, this project {ours:10,.0f}/s, "
                    f"ratio {ours / red:.2f}",
                    flush=True,
                )
                if per in paced:
                    found = [
                        sustained_rate(
                            peer,
                            start=alone / per,
                            influx=influx,
                            tmp=tmp,
                            per_message=per,
                            trial_s=args.trial_seconds,
                            **common,
                        )
                        * per
                        for peer in ("node-red", "shinshu")
                    ]
                    steady[per] = (found[0], found[1], alone)
        finally:
            influx.stop()
    print("\n| readings per message | publishers alone | Node-RED | this project | ratio |")
    print("|---|---|---|---|---|")
    for per, alone, red, ours in rows:
        limited = " (publisher-bound)" if ours > 0.9 * alone else ""
        print(
            f"| {per} | {alone:,.0f} /s | {red:,.0f} /s | {ours:,.0f} /s{limited} "
            f"| {ours / red:.2f} |"
        )
    if steady:
        print("\nSustained, loss-free (every reading stored within 2 s of the last publish):")
        print("| readings per message | Node-RED | this project | ratio |")
        print("|---|---|---|---|")
        for per, (red, ours, alone) in sorted(steady.items()):
            ratio = f"{ours / red:.2f}" if red else "n/a (Node-RED lost readings at every rate)"
            limited = " (publisher-bound)" if ours > 0.9 * alone else ""
            print(f"| {per} | {red:,.0f} /s | {ours:,.0f} /s{limited} | {ratio} |")


if __name__ == "__main__":
    main()

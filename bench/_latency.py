"""Publish -> queryable latency of one ingest worker on private Mosquitto and InfluxDB.

A paced publisher sends `--rate` readings/s (`--per-message` readings per message, spread over
`--devices` devices) for `--seconds`; every reading is stamped with the wall-clock time it was
published. One `shinshu ingest` worker (the shipped settings) stores them. A poller asks
InfluxDB, as fast as it answers, how many readings stamped at or after the oldest one not yet
seen are stored; one worker stores messages in the order it received them, so a count of n
means the first n published readings are queryable. A reading's latency is the end of the
first poll that counted it minus its publish time: an upper bound, coarser by one poll
(whose median duration is printed beside).

Usage: python bench/latency.py [--rate 10000] [--per-message 10] [--devices 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench._ingest import access, start_ingest
from edge.mqtt import MqttEndpoint, Publisher, connect, make_client
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from shinshu.localservices import LocalInfluxDB, free_port
from storage.influx.client import InfluxStore

KIND = SensorKind.SOIL_MOISTURE
TENANT, SITE = "bench", "lat"
WARM_UP_S = 2.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Poller:
    """Counts stored readings from the oldest unseen stamp on, and notes when each was seen."""

    def __init__(self, store: InfluxStore, stamps: list[int], seen_at: list[float]) -> None:
        """Poll `store` for readings stamped `stamps` (publish ms, in publish order)."""
        self._store = store
        self._stamps = stamps
        self._seen_at = seen_at
        self.seen = 0
        self.durations: list[float] = []
        self.ended: list[float] = []

    def poll(self) -> None:
        """One count query; marks the readings it newly counts as queryable now."""
        published = len(self._stamps)
        if self.seen >= published:
            time.sleep(0.0005)
            return
        since = self._stamps[self.seen]
        # Every reading stamped before `since` was published (and seen) before it.
        before = bisect.bisect_left(self._stamps, since, 0, published)
        began = time.perf_counter()
        answer = self._store.query(
            f'SELECT count("value") FROM "{KIND.value}" WHERE time >= {since}ms'
        )
        ended = time.perf_counter()
        self.durations.append(ended - began)
        self.ended.append(ended)
        series = answer[0].get("series")
        count = int(series[0]["values"][0][1]) if series else 0
        stored = min(before + count, published)
        for index in range(self.seen, stored):
            self._seen_at[index] = ended
        self.seen = max(self.seen, stored)


def _print_windows(sent_at: list[float], seen_at: list[float], first: int, poller: Poller) -> None:
    """p99 latency and median poll duration per 10 s of publishing: whether latency grows."""
    began = sent_at[first]
    windows: dict[int, list[float]] = {}
    for i in range(first, len(sent_at)):
        if seen_at[i]:
            windows.setdefault(int((sent_at[i] - began) // 10), []).append(seen_at[i] - sent_at[i])
    polls: dict[int, list[float]] = {}
    for ended, duration in zip(poller.ended, poller.durations, strict=True):
        polls.setdefault(int((ended - began) // 10), []).append(duration)
    for w, latencies in sorted(windows.items()):
        poll = statistics.median(polls.get(w, [0.0])) * 1000
        print(
            f"  {w * 10:3d}-{w * 10 + 10:3d} s: p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, poll median {poll:.1f} ms"
        )


def publish_paced(
    endpoint_for: Callable[[DeviceTopic], MqttEndpoint],
    *,
    rate: int,
    per_message: int,
    devices: int,
    seconds: float,
    stamps: list[int],
    sent_at: list[float],
) -> None:
    """Publish at `rate` readings/s, recording each reading's stamp and publish time."""
    messages_per_s = rate / per_message
    topics = [DeviceTopic(TENANT, SITE, f"dev{d}") for d in range(devices)]
    endpoint = endpoint_for(topics[0])
    client = make_client(endpoint, f"bench-lat-{os.getpid()}")
    publisher = Publisher(client, window=2_000)
    connect(client, endpoint)
    total = int(messages_per_s * seconds)
    began = time.perf_counter()
    seqs = [0] * devices
    for n in range(total):
        due = began + n / messages_per_s
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(min(delay, 0.001))
        d = n % devices
        topic = topics[d]
        now_ms = int(time.time() * 1000)
        # One sensor per position: a device's readings of one message never share a series.
        readings = [Reading(f"s{i}", KIND, now_ms, 20.0 + i % 7) for i in range(per_message)]
        body = encode_batch(topic.device, seqs[d], now_ms, readings)
        seqs[d] += 1
        sent = time.perf_counter()
        publisher.publish(topic.topic(Channel.UP), body)
        stamps.extend([now_ms] * per_message)
        sent_at.extend([sent] * per_message)
    publisher.flush()
    client.disconnect()
    client.loop_stop()


def main() -> None:
    """Run the benchmark and print p50/p99 of publish -> queryable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--per-message", type=int, default=10)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        influx = LocalInfluxDB("influxd", tmp, free_port())
        influx.start()
        where = access("password", tmp)
        worker = None
        try:
            worker, _port, _up = start_ingest(
                where,
                influx,
                db="lat",
                client_id="shinshu-ingest-lat",
                log=tmp / "ingest.log",
                group_commit=True,
            )
            store = InfluxStore(httpx.Client(base_url=influx.url, timeout=10), "lat")
            stamps: list[int] = []
            sent_at: list[float] = []
            capacity = int(args.rate * (args.seconds + 1))
            seen_at = [0.0] * capacity
            poller = Poller(store, stamps, seen_at)
            done = threading.Event()

            def poll_loop() -> None:
                """Poll until the publisher is done and every reading was seen."""
                while not done.is_set() or poller.seen < len(stamps):
                    poller.poll()

            polling = threading.Thread(target=poll_loop, daemon=True)
            polling.start()
            publish_paced(
                lambda t: where.device(t.tenant, t.site, t.device),
                rate=args.rate,
                per_message=args.per_message,
                devices=args.devices,
                seconds=args.seconds,
                stamps=stamps,
                sent_at=sent_at,
            )
            done.set()
            polling.join(60)
            first = bisect.bisect_left(sent_at, sent_at[0] + WARM_UP_S)
            latencies = [
                (seen_at[i] - sent_at[i]) * 1000 for i in range(first, len(sent_at)) if seen_at[i]
            ]
            missing = len(sent_at) - first - len(latencies)
            print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
            print(
                f"published {len(sent_at):,} readings at {args.rate:,}/s "
                f"({args.per_message}/message, {args.devices} devices, {args.seconds:.0f} s); "
                f"first {WARM_UP_S:.0f} s not counted; {missing} not seen"
            )
            print(
                f"publish -> queryable: p50 {percentile(latencies, 0.5):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms "
                f"(target p99 <= 50 ms)"
            )
            print(f"poll duration median {statistics.median(poller.durations) * 1000:.1f} ms")
            _print_windows(sent_at, seen_at, first, poller)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(30)
            where.broker.stop()
            influx.stop()

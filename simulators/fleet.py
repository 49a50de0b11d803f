"""A fleet of simple simulated devices publishing through the real edge publisher.

Signals are smooth cycles with seeded noise: enough to drive and check the data path end to end.
Every value is reproducible from (seed, device index, reading index), so tests can recompute
what the store must hold. A load generator: it waits for the broker's PUBACKs, not for
ingest's stored receipts (the edge agent does that).
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.time import MS_PER_DAY
from edge.drivers.simulated import SIGNALS
from edge.mqtt import MqttEndpoint, MqttError, Publisher, connect, make_client
from edge.protocol import (
    MAX_MESSAGE_BYTES,
    Channel,
    DeviceTopic,
    Reading,
    SensorKind,
    encode_batch,
)
from identity.accounts import device_username
from simulators.accounts import SecretIssuer

log = logging.getLogger(__name__)

_KINDS = list(SensorKind)


def device_name(index: int) -> str:
    """The id of simulated device number `index`."""
    return f"sim-{index:04d}"


def device_kind(index: int) -> SensorKind:
    """The one sensor kind that simulated device `index` carries."""
    return _KINDS[index % len(_KINDS)]


def iter_readings(
    index: int, count: int, start_ms: int, interval_ms: int, seed: int
) -> Iterator[Reading]:
    """Readings of device `index`: a daily cycle plus seeded noise, inside the kind's range."""
    kind = device_kind(index)
    spec = kind.spec
    level, swing = SIGNALS[kind]
    rng = random.Random(f"{seed}/{index}")
    for i in range(count):
        ts = start_ms + i * interval_ms
        phase = 2 * math.pi * (ts % MS_PER_DAY) / MS_PER_DAY
        value = level + swing * math.sin(phase) + rng.gauss(0.0, swing * 0.05)
        value = min(max(value, spec.low), spec.high)
        value = float(round(value)) if kind is SensorKind.ITEM_COUNT else round(value, 3)
        yield Reading(kind.value, kind, ts, value)


def simple_readings(
    index: int, count: int, start_ms: int, interval_ms: int, seed: int
) -> list[Reading]:
    """All readings of device `index`, as a list (see iter_readings)."""
    return list(iter_readings(index, count, start_ms, interval_ms, seed))


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """What the fleet sends: devices, readings per device, batching, pacing and seed."""

    tenant: str
    site: str
    devices: int
    readings: int
    batch_size: int = 100
    interval_ms: int = 1_000
    # Messages per second per device; 0 sends as fast as the window allows.
    rate: float = 0.0
    seed: int = 1
    start_ms: int | None = None
    window: int = 100

    def start_for(self, now_ms: int) -> int:
        """The first reading's timestamp: so that the last one is no later than now."""
        if self.start_ms is not None:
            return self.start_ms
        return now_ms - self.readings * self.interval_ms


@dataclass(frozen=True, slots=True)
class FleetReport:
    """What the fleet published and the broker acknowledged."""

    devices: int
    readings: int
    messages: int
    seconds: float


def _run_device(
    plan: FleetPlan,
    index: int,
    *,
    endpoint: MqttEndpoint,
    start_ms: int,
    stop: threading.Event,
    clock: Callable[[], float],
    counts: list[int],
    secret: str | None,
) -> None:
    """Publish one device's readings in batches and wait for every PUBACK."""
    name = device_name(index)
    topic = DeviceTopic(plan.tenant, plan.site, name).validate().topic(Channel.UP)
    client_id = device_username(plan.tenant, plan.site, name)
    if secret is not None:
        endpoint = endpoint.with_login(client_id, secret)
    client = make_client(endpoint, client_id)
    publisher = Publisher(client, window=plan.window)
    connect(client, endpoint, clean_start=False)
    readings = iter_readings(index, plan.readings, start_ms, plan.interval_ms, plan.seed)
    began = time.monotonic()
    try:
        for seq in itertools.count():
            chunk = list(itertools.islice(readings, plan.batch_size))
            if not chunk or stop.is_set():
                break
            if plan.rate > 0:
                delay = began + seq / plan.rate - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            payload = encode_batch(name, seq, int(clock() * 1000), chunk)
            if len(payload) > MAX_MESSAGE_BYTES:
                raise ValueError(f"batch of {len(chunk)} readings exceeds the message size limit")
            publisher.publish(topic, payload)
            counts[index] += len(chunk)
        publisher.flush()
        if publisher.refused_count:
            raise MqttError(
                f"the broker refused {publisher.refused_count} message(s) of {name}: "
                f"{publisher.refused[-1]}"
            )
    finally:
        client.disconnect()
        client.loop_stop()


def run_fleet(
    plan: FleetPlan,
    endpoint: MqttEndpoint,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
    issue_secrets: SecretIssuer | None = None,
) -> FleetReport:
    """Run every device of `plan` in its own thread until all readings are acknowledged.

    With `issue_secrets`, each device logs in with its own registered account; without, all
    use `endpoint`'s login (a broker with its own accounts for them).
    """
    stop = stop or threading.Event()
    start_ms = plan.start_for(int(clock() * 1000))
    counts = [0] * plan.devices
    secrets: dict[int, str] = {}
    if issue_secrets is not None:
        keys = [(plan.tenant, plan.site, device_name(i)) for i in range(plan.devices)]
        issued = issue_secrets(keys)
        secrets = {i: issued[key] for i, key in enumerate(keys)}
    errors: list[BaseException] = []
    began = time.monotonic()

    def device(index: int) -> None:
        try:
            _run_device(
                plan,
                index,
                endpoint=endpoint,
                start_ms=start_ms,
                stop=stop,
                clock=clock,
                counts=counts,
                secret=secrets.get(index),
            )
        except BaseException as exc:
            log.exception("device %s failed", device_name(index))
            errors.append(exc)

    threads = [
        threading.Thread(target=device, args=(i,), name=device_name(i), daemon=True)
        for i in range(plan.devices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    total = sum(counts)
    messages = sum(math.ceil(c / plan.batch_size) for c in counts)
    return FleetReport(plan.devices, total, messages, time.monotonic() - began)

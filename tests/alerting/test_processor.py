"""The alert loop with an in-memory source and store: acknowledgement order, outages, bad input."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field

import httpx
import numpy as np

from alerting.bins import BinResolver
from alerting.detect import DetectOptions
from alerting.metrics import AlertMetrics
from alerting.processor import AlertProcessor, ProcessorOptions
from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from ingest.clock import SkewCorrector
from ingest.sources.mqtt import InMessage
from models.stock.alerts import BinState
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.influx.client import InfluxStore, StoreUnavailableError

STEP_MS = 600_000
NOW_MS = 1_790_000_000_000
TOPIC = DeviceTopic("acme", "plant", "stock-gateway")
UNIT_KG = 0.5


@dataclass
class FakeSource:
    """Hands out prepared messages and records acknowledgements."""

    messages: list[InMessage]
    acked: list[int] = field(default_factory=list)

    def get(self, timeout: float) -> InMessage | None:
        """The next prepared message, if any."""
        return self.messages.pop(0) if self.messages else None

    def ack(self, message: InMessage) -> None:
        """Record the acknowledgement."""
        self.acked.append(message.mid)

    def publish(self, topic: str, payload: bytes) -> None:
        """Not used by the alert loop."""
        raise AssertionError("the alert loop publishes nothing")


class MemoryAlerts(AlertStore):
    """History and alerts in memory; the first `failures` writes find the store down."""

    def __init__(self, history: dict[str, list[tuple[int, float]]], failures: int = 0) -> None:
        """Serve `history` by sensor id."""
        self._history = history
        self.failures = failures
        self.written: list[Alert] = []
        self.attempts: list[list[int]] = []
        self.source: FakeSource | None = None

    def history(  # type: ignore[override]
        self, tenant: str, site: str, device: str, sensor: str, kind: SensorKind, **span: int
    ) -> list[tuple[int, float]]:
        """Stored readings of `sensor` in the span."""
        return [
            p for p in self._history.get(sensor, []) if span["start_ms"] <= p[0] < span["end_ms"]
        ]

    def bin_alerts(self, *args: object) -> list[Alert]:  # type: ignore[override]
        """Nothing stored before."""
        return []

    def write(self, alerts: object) -> None:  # type: ignore[override]
        """Record the alerts, after failing `failures` times."""
        assert self.source is not None
        self.attempts.append(list(self.source.acked))
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("down for the test")
        self.written.extend(alerts)  # type: ignore[call-overload]


def bin_series(n: int) -> tuple[list[int], list[float], list[float]]:
    """Times, weights and counts of a bin used steadily (ends at NOW_MS)."""
    rng = np.random.default_rng(4)
    count = (5_000 - np.cumsum(rng.poisson(2.0, n))).astype(float)
    weight = (count * UNIT_KG + rng.normal(0, 0.1, n)).round(3)
    ts = [NOW_MS - (n - i) * STEP_MS for i in range(n)]
    return ts, weight.tolist(), count.tolist()


def message(mid: int, readings: list[Reading], topic: str | None = None) -> InMessage:
    """An uplink message with `readings`."""
    payload = encode_batch(TOPIC.device, mid, NOW_MS, readings)
    return InMessage(topic or TOPIC.topic(Channel.UP), payload, mid, 1, 0.0)


def pair(ts: int, weight: float, count: float) -> list[Reading]:
    """The weight and count readings of one instant."""
    return [
        Reading("bolts_weight", SensorKind.BIN_WEIGHT, ts, weight),
        Reading("bolts_count", SensorKind.ITEM_COUNT, ts, count),
    ]


def processor(
    source: FakeSource, alerts: MemoryAlerts, sleeps: list[float] | None = None
) -> tuple[AlertProcessor, AlertMetrics]:
    """A processor whose registry reads find no store (so bins are found by name)."""
    nowhere = InfluxStore(httpx.Client(base_url="http://127.0.0.1:9", timeout=1), "none")
    metrics = AlertMetrics()
    alerts.source = source
    made = AlertProcessor(
        source,
        alerts,
        BinResolver(nowhere, 24.0, ttl_s=1e9),
        metrics,
        SkewCorrector(300_000, lambda: NOW_MS / 1000),
        options=ProcessorOptions(history_ms=72 * 3_600_000),
        detect=DetectOptions(),
        states=BinState,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        clock=lambda: NOW_MS / 1000,
    )
    return made, metrics


def live_with_drop(n_history: int = 400, n_live: int = 12) -> tuple[MemoryAlerts, FakeSource]:
    """History in the store, then live messages (one instant each) with a drop from the 3rd."""
    ts, weight, count = bin_series(n_history + n_live)
    history = {
        "bolts_weight": list(zip(ts[:n_history], weight[:n_history], strict=True)),
        "bolts_count": list(zip(ts[:n_history], count[:n_history], strict=True)),
    }
    messages = []
    for i in range(n_history, n_history + n_live):
        drop = 40 * UNIT_KG if i >= n_history + 2 else 0.0
        messages.append(message(i, pair(ts[i], weight[i] - drop, count[i])))
    return MemoryAlerts(history), FakeSource(messages)


def run_all(made: AlertProcessor, source: FakeSource) -> None:
    """Handle every prepared message."""
    stop = threading.Event()
    while source.messages:
        made.handle(source.messages.pop(0), stop)


def test_warm_bin_alerts_on_the_live_drop_and_acks_every_message_in_order() -> None:
    """History from the store makes the first live drop an alert at once; all acked in order."""
    alerts, source = live_with_drop()
    mids = [m.mid for m in source.messages]
    made, metrics = processor(source, alerts)
    run_all(made, source)
    assert source.acked == mids
    drops = [a for a in alerts.written if a.kind is AlertKind.DROP]
    assert len({a.id for a in drops}) == 1
    assert metrics.registry.get_sample_value("shinshu_alerts_raised_total", {"kind": "drop"}) == 1
    assert metrics.registry.get_sample_value("shinshu_alerts_warm_start_pairs_total") == 400


def test_a_message_is_acknowledged_only_after_its_alert_is_stored() -> None:
    """While the store is down the message that raised an alert stays unacknowledged."""
    alerts, source = live_with_drop()
    mid_of = {json.loads(m.payload)["readings"][0]["t"]: m.mid for m in source.messages}
    alerts.failures = 3
    sleeps: list[float] = []
    made, metrics = processor(source, alerts, sleeps)
    run_all(made, source)
    drop = next(a for a in alerts.written if a.kind is AlertKind.DROP)
    # Three failed writes and the one that worked, each before the raising message was acked.
    assert len(alerts.attempts) == 4 and len(sleeps) == 3
    assert all(mid_of[drop.ts_ms] not in acked for acked in alerts.attempts)
    assert metrics.registry.get_sample_value("shinshu_alerts_store_errors_total") == 3
    assert source.acked == sorted(mid_of.values())


def test_stop_during_an_outage_leaves_the_message_unacknowledged() -> None:
    """A stop while the store is down ends the loop without acknowledging the pending message."""
    alerts, source = live_with_drop()
    alerts.failures = 1_000
    stop = threading.Event()
    made, _ = processor(source, alerts, [])
    made._sleep = lambda _s: stop.set()  # the stop arrives during the first backoff
    made.run(stop)
    assert len(source.acked) < 12
    assert not alerts.written


def test_bad_messages_are_counted_and_acknowledged_without_stopping_the_loop() -> None:
    """Garbage, a malformed topic and a device mismatch are skipped; the next message works."""
    alerts, source = live_with_drop(n_live=3)
    good = source.messages
    bad = [
        InMessage(TOPIC.topic(Channel.UP), b"not json", 900, 1, 0.0),
        InMessage("shinshu/v1/acme/up", b"{}", 901, 1, 0.0),
        message(902, pair(NOW_MS, 1.0, 2.0), "shinshu/v1/acme/plant/other/up"),
    ]
    source.messages = bad + good
    made, metrics = processor(source, alerts)
    run_all(made, source)
    assert source.acked == [900, 901, 902] + [m.mid for m in good]
    skipped = metrics.registry.get_sample_value(
        "shinshu_alerts_skipped_total", {"reason": "bad_message"}
    )
    assert skipped == 3
    assert metrics.registry.get_sample_value("shinshu_alerts_reading_pairs_total") == 3


def test_a_reading_waits_for_its_partner_from_the_next_message() -> None:
    """A weight whose count comes in the next message holds its message's acknowledgement."""
    alerts, source = live_with_drop(n_live=1)
    ts = NOW_MS - STEP_MS // 2
    first = message(1, [Reading("bolts_weight", SensorKind.BIN_WEIGHT, ts, 2_000.0)])
    second = message(2, [Reading("bolts_count", SensorKind.ITEM_COUNT, ts, 4_000.0)])
    source.messages = [first]
    made, _ = processor(source, alerts)
    run_all(made, source)
    assert source.acked == []
    source.messages = [second]
    run_all(made, source)
    assert source.acked == [1, 2]


def test_poison_messages_are_counted_and_acknowledged_without_stopping_the_loop() -> None:
    """Deep nesting, a list as kind, version 1.0, a bad status: counted, acked, loop goes on."""
    alerts, source = live_with_drop(n_live=3)
    good = source.messages
    reading = {"t": NOW_MS, "k": ["bin_weight"], "v": 1.0, "s": "bolts_weight"}
    doc = {"v": 1, "device": TOPIC.device, "seq": 1, "sent": NOW_MS, "readings": [reading]}
    up, status = TOPIC.topic(Channel.UP), TOPIC.topic(Channel.STATUS)
    bad = [
        InMessage(up, b"[" * 2_000 + b"]" * 2_000, 900, 1, 0.0),
        InMessage(up, json.dumps(doc).encode(), 901, 1, 0.0),
        InMessage(up, json.dumps({**doc, "v": 1.0}).encode(), 902, 1, 0.0),
        InMessage(status, b'{"v":1,"device":["x"],"state":"online"}', 903, 1, 0.0),
        InMessage(status, b'{"v":1,"device":"stock-gateway","state":"online"}', 904, 1, 0.0),
    ]
    source.messages = bad + good
    made, metrics = processor(source, alerts)
    run_all(made, source)
    assert source.acked == [900, 901, 902, 903, 904] + [m.mid for m in good]

    def skipped(reason: str) -> float | None:
        """The skip counter for `reason`."""
        return metrics.registry.get_sample_value("shinshu_alerts_skipped_total", {"reason": reason})

    assert skipped("bad_message") == 3
    assert skipped("invalid_reading") == 1
    assert skipped("failed") == 0
    assert metrics.registry.get_sample_value("shinshu_alerts_reading_pairs_total") == 3


def test_the_sites_air_temperature_reaches_the_bin_detectors_as_the_halls() -> None:
    """A load cell's pair is judged with the newest air temperature of its site, when that is
    within an hour of the pair; without one, the detectors are told none is known."""
    seen: list[float] = []

    class Recording(BinState[object]):
        def offer(self, *args: object, temperature: float = float("nan"), **kw: object) -> None:
            seen.append(temperature)
            super().offer(*args, temperature=temperature, **kw)  # type: ignore[arg-type]

    ts, weight, count = bin_series(4)
    old = Reading("hall", SensorKind.AIR_TEMPERATURE, ts[1] - 2 * 3_600_000, 3.0)
    hall = Reading("hall", SensorKind.AIR_TEMPERATURE, ts[2], 18.5)
    source = FakeSource(
        [
            message(1, pair(ts[0], weight[0], count[0])),
            message(2, [old, *pair(ts[1], weight[1], count[1])]),
            message(3, [hall, *pair(ts[2], weight[2], count[2])]),
            message(4, pair(ts[3], weight[3], count[3])),
        ]
    )
    alerts = MemoryAlerts({})
    made, _metrics = processor(source, alerts)
    made._states = Recording  # type: ignore[assignment]
    run_all(made, source)
    assert len(seen) == 8  # a weight and a count per message
    assert all(math.isnan(t) for t in seen[:2])  # no hall temperature known yet
    assert all(math.isnan(t) for t in seen[2:4])  # two hours before the pair: too old to tell
    assert seen[4:] == [18.5] * 4  # the same instant, and ten minutes later

"""The detectors as a sink of ingest's consumer loop: bin readings paired, checked, alerts stored.

A message is acknowledged (in the order received) only when every bin reading in it has been
fed to its bin's detectors or dropped with a count, and the alerts that raised are stored. A
message that cannot be read is counted, logged and acknowledged: it never stops the loop. While
the store is down the loop retries with backoff and takes no new messages, so the broker holds
the backlog; a stop request leaves whatever is unfinished unacknowledged for the next session.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from alerting.bins import BinRef, BinResolver, Channel
from alerting.detect import BinPairing, DetectOptions, Outcome
from alerting.live_rules import LiveRules
from alerting.metrics import AlertMetrics, SkipReason
from core.retry import Backoff, RetryStoppedError
from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import SensorKind
from ingest.clock import SkewCorrector
from ingest.consumer import AckOrder, Consumer, StoreRetry, Ticket
from ingest.metrics import DropReason
from ingest.parse import Limits, ParsedMessage
from ingest.sources.mqtt import InMessage, MessageSource
from storage.alert_types import Alert
from storage.alerts import AlertStore
from storage.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Builds the state of a bin seen for the first time, around its detectors.
BinStates = Callable[[BinRef, DetectOptions], BinPairing[Ticket]]


@dataclass(frozen=True, slots=True)
class ProcessorOptions:
    """Warm-start window, pairing patience, retry limits."""

    history_ms: int = 72 * MS_PER_HOUR
    pair_wait_s: float = 10.0
    retry_initial_s: float = 0.05
    retry_max_s: float = 5.0
    max_message_bytes: int = 256 * 1024


# A hall temperature reading older (or newer) than this says nothing of a bin's reading.
HALL_TEMPERATURE_MS = MS_PER_HOUR


@dataclass(slots=True)
class _Routed:
    """The bin readings of one message, grouped by bin."""

    refs: dict[tuple[str, str, str, str], BinRef] = field(default_factory=dict)
    readings: dict[tuple[str, str, str, str], list[tuple[int, Channel, float]]] = field(
        default_factory=dict
    )


class AlertProcessor:
    """The alerts service on one thread: messages in, alerts stored, acknowledgements out."""

    def __init__(
        self,
        source: MessageSource,
        alerts: AlertStore,
        resolver: BinResolver,
        metrics: AlertMetrics,
        skew: SkewCorrector,
        *,
        options: ProcessorOptions,
        detect: DetectOptions,
        states: BinStates,
        rules: LiveRules | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        """Wire the loop; `states` gives each bin its detectors, `rules` evaluates threshold
        rules on the readings as they arrive; clocks are injectable."""
        self._alerts = alerts
        self._rules = rules
        self._states = states
        self._resolver = resolver
        self._metrics = metrics
        self._options = options
        self._detect = detect
        self._monotonic = monotonic
        self._clock = clock
        self._sleep = sleep
        self._bins: dict[tuple[str, str, str, str], BinPairing[Ticket]] = {}
        # The newest air temperature of each (tenant, site): the hall's, for its load cells.
        self._halls: dict[tuple[str, str], tuple[int, float]] = {}
        self._last_expiry = monotonic()
        self._backoff = Backoff(options.retry_initial_s, options.retry_max_s)
        self._acks = AckOrder(source, metrics)
        limits = Limits(max_message_bytes=options.max_message_bytes)
        self._consumer = Consumer(source, self, self._acks, skew, limits)

    @property
    def bins(self) -> dict[tuple[str, str, str, str], BinPairing[Ticket]]:
        """The bins seen so far, by (tenant, site, device, bin)."""
        return self._bins

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set."""
        self._consumer.run(stop)

    def handle(self, message: InMessage, stop: threading.Event) -> None:
        """Deal with one message; acknowledge every message that is now finished, in order."""
        self._consumer.accept(message, stop)

    def start(self, stop: threading.Event) -> None:
        """Nothing to start: the loop runs on the calling thread."""

    def poll_s(self) -> float:
        """How long to wait for the next message."""
        return 0.2

    def tick(self, stop: threading.Event, *, idle: bool) -> None:
        """Expire unpaired halves once a second."""
        if self._monotonic() - self._last_expiry >= 1.0:
            self.expire(stop)

    def close(self, stop: threading.Event) -> None:
        """Nothing to finish: unpaired halves keep their messages for the next session."""

    def take(self, ticket: Ticket, parsed: ParsedMessage, stop: threading.Event) -> None:
        """Feed one message's bin readings to their bins; store what they raised."""
        message = ticket.message
        out: Outcome[Ticket] = Outcome()
        try:
            if parsed.refusal is not None:
                # The same refusals as ingest, which dead-letters them; here they are counted.
                failed = parsed.refusal.why is DropReason.FAILED
                skip = SkipReason.FAILED if failed else SkipReason.BAD_MESSAGE
                self._metrics.skipped.labels(skip.value).inc()
                log.warning("skipped a message on %s: %s", message.topic, parsed.refusal.reason)
            routed = self._route(parsed)
            for key, ref in routed.refs.items():
                state = self._state(ref, min(ts for ts, _, _ in routed.readings[key]), stop)
                state.ref = ref
                arrived = self._monotonic()
                for ts, channel, value in sorted(routed.readings[key], key=lambda r: r[0]):
                    ticket.waiting += 1
                    state.offer(
                        channel,
                        ts,
                        value,
                        ticket,
                        arrived=arrived,
                        out=out,
                        temperature=self._hall_temperature(ref, ts),
                    )
        except RetryStoppedError:
            raise
        except Exception:
            # A bug must not stop alerts for every other bin; the message is counted and logged.
            self._metrics.skipped.labels(SkipReason.FAILED.value).inc()
            log.exception("failed to process a message on %s", message.topic)
        self._live_rules(parsed, out)
        self._finish(out, stop, message.received)

    def _live_rules(self, parsed: ParsedMessage, out: Outcome[Ticket]) -> None:
        """Threshold rules on the message's readings; what they raise is stored with the rest.

        A failure here (the store down while a tracker warms up) is logged and left to the
        periodic rule pass, which reads the same readings from the store."""
        if self._rules is None or parsed.topic is None or parsed.refusal is not None:
            return
        try:
            raised = self._rules.offer(parsed.topic, parsed.readings)
        except Exception:
            log.exception("threshold rules on a message of %s failed", parsed.topic.device)
            return
        out.writes.extend(raised)
        out.raised.extend(raised)

    def expire(self, stop: threading.Event) -> None:
        """Give up on halves whose partner has not come within `pair_wait_s`."""
        self._last_expiry = self._monotonic()
        out: Outcome[Ticket] = Outcome()
        before = self._last_expiry - self._options.pair_wait_s
        for state in self._bins.values():
            state.expire(before, out)
        self._finish(out, stop, None)

    def _route(self, parsed: ParsedMessage) -> _Routed:
        """Group the valid bin readings of an accepted uplink message by bin."""
        routed = _Routed()
        topic = parsed.topic
        if parsed.refusal is not None or parsed.batch is None or topic is None:
            return routed
        if parsed.rejected:
            self._metrics.skipped.labels(SkipReason.INVALID_READING.value).inc(len(parsed.rejected))
        for reading in parsed.readings:
            if reading.kind is SensorKind.AIR_TEMPERATURE:
                known = self._halls.get((topic.tenant, topic.site))
                if known is None or reading.ts_ms >= known[0]:
                    self._halls[topic.tenant, topic.site] = (reading.ts_ms, reading.value)
                continue
            if reading.kind not in (SensorKind.BIN_WEIGHT, SensorKind.ITEM_COUNT):
                continue
            found = self._resolver.resolve(
                topic.tenant, topic.site, topic.device, reading.sensor, reading.kind
            )
            if found is None:
                continue
            ref, bin_channel = found
            routed.refs[ref.key] = ref
            routed.readings.setdefault(ref.key, []).append(
                (reading.ts_ms, bin_channel, reading.value)
            )
        return routed

    def _hall_temperature(self, ref: BinRef, ts: int) -> float:
        """The bin's site's newest air temperature, if it is within an hour of `ts`; else NaN."""
        hall = self._halls.get((ref.tenant, ref.site))
        if hall is None or abs(ts - hall[0]) > HALL_TEMPERATURE_MS:
            return math.nan
        return hall[1]

    def _state(self, ref: BinRef, first_ts: int, stop: threading.Event) -> BinPairing[Ticket]:
        """The bin's state; the first time, warmed up from the store's recent history."""
        state = self._bins.get(ref.key)
        if state is not None:
            return state
        state = self._states(ref, self._detect)
        start = first_ts - self._options.history_ms
        # The stock-out forecast learns from weeks of weight; the detector from the counts' span.
        forecast_ms = int(self._detect.forecast_window_days * MS_PER_DAY)
        alerts = self._alerts

        def history(sensor: str, kind: SensorKind, since: int) -> list[tuple[int, float]]:
            return alerts.history(
                ref.tenant, ref.site, ref.device, sensor, kind, start_ms=since, end_ms=first_ts
            )

        weight_start = min(start, first_ts - forecast_ms)
        weights = self._retry(
            lambda: history(ref.weight_sensor, SensorKind.BIN_WEIGHT, weight_start), stop, []
        )
        counts = (
            self._retry(lambda: history(ref.count_sensor, SensorKind.ITEM_COUNT, start), stop, [])
            if ref.count_sensor
            else []
        )
        sensors = [s for s in (ref.weight_sensor, ref.count_sensor) if s]
        since = start - self._detect.episode_gap_ms
        stored: list[Alert] = self._retry(
            lambda: alerts.bin_alerts(ref.tenant, ref.site, ref.device, sensors, since), stop, []
        )
        replayed = state.warm(weights, counts, stored)
        self._metrics.warm_pairs.inc(replayed)
        self._bins[ref.key] = state
        self._metrics.bins.set(len(self._bins))
        log.info(
            "watching bin %s at %s/%s: %d stored pairs replayed, %d recent alert(s)",
            ref.bin,
            ref.site,
            ref.device,
            replayed,
            len(stored),
        )
        return state

    def _finish(self, out: Outcome[Ticket], stop: threading.Event, received: float | None) -> None:
        """Store what the outcome raised, release its readings, acknowledge what is done."""
        if out.writes:
            latest = {alert.id: alert for alert in out.writes}
            self._retry(lambda: self._alerts.write(list(latest.values())), stop, None)
            if received is not None and out.raised:
                self._metrics.store_seconds.observe(max(0.0, self._clock() - received))
        for alert in out.raised:
            self._metrics.raised.labels(alert.kind.value).inc()
            log.info(
                "alert %s %s on %s/%s/%s: %s",
                alert.id,
                alert.kind.value,
                alert.site,
                alert.device,
                alert.sensor,
                alert.reason,
            )
        for alert in out.folded:
            self._metrics.folded.labels(alert.kind.value).inc()
        self._metrics.pairs.inc(out.pairs)
        if out.unpaired:
            self._metrics.skipped.labels(SkipReason.UNPAIRED.value).inc(out.unpaired)
            log.info("%d bin reading(s) dropped without their partner reading", out.unpaired)
        if out.late:
            self._metrics.skipped.labels(SkipReason.LATE.value).inc(out.late)
        self._acks.release(out.released)

    def _retry(self, action: Callable[[], T], stop: threading.Event, fallback: T) -> T:
        """Run `action`, retrying while the store is unavailable; `fallback` if it refuses."""
        retrying = StoreRetry(
            self._backoff,
            self._metrics.store_errors.inc,
            monotonic=self._monotonic,
            sleep=self._sleep,
        )
        try:
            return retrying(action, stop)
        except StoreError as exc:
            # Refused for good (not a passing outage): counted and logged, never retried.
            self._metrics.store_errors.inc()
            log.error("the store refused a request of the alerts service: %s", exc)
            return fallback

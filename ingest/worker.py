"""The ingest loop: validate messages, write readings in batches, acknowledge only what is safe."""

from __future__ import annotations

import bisect
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.protocol import (
    Batch,
    Channel,
    DeviceTopic,
    ProtocolError,
    Reading,
    Rejected,
    decode_batch,
    parse_topic,
    validate_readings,
)
from edge.status import decode_status
from ingest.clock import SkewCorrector
from ingest.deadletter import DeadLetters, wait_delivered
from ingest.metrics import DropReason, IngestMetrics
from ingest.sources.mqtt import Delivery, InMessage, MessageSource
from ingest.stores.influx import InfluxStore, LineRejected, StoreUnavailableError
from ingest.stores.lineprotocol import reading_lines, status_line

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Batching, retry and shutdown limits of a worker."""

    batch_points: int = 5_000
    batch_seconds: float = 0.2
    # The broker sends no more than its ReceiveMaximum unacknowledged messages: once half of
    # that is pending, waiting for the batch to age only stalls the stream.
    batch_messages: int = 500
    poll_seconds: float = 0.002
    # Batches parsed and waiting for the writer: one lets parsing overlap the write.
    write_queue: int = 1
    # A worker that sees every batch of its devices (no shared group) can count lost ones.
    count_gaps: bool = True
    retry_initial_s: float = 0.05
    retry_max_s: float = 5.0
    shutdown_grace_s: float = 10.0
    max_message_bytes: int = 256 * 1024


@dataclass(slots=True)
class _Span:
    """Where one message's readings sit in the pending batch of lines."""

    start: int
    message: InMessage
    topic: DeviceTopic
    batch: Batch
    readings: list[Reading]


@dataclass(slots=True)
class _Pending:
    """Messages received since the last hand-over, the lines they produced, their dead letters."""

    messages: list[InMessage] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    spans: list[_Span] = field(default_factory=list)
    dead_letters: list[Delivery] = field(default_factory=list)
    # Device status points, written after the readings in the same request.
    status_lines: list[str] = field(default_factory=list)
    started: float = 0.0


class IngestWorker:
    """Parses messages on the calling thread and stores them on a writer thread, in order.

    Parsing the next batch while the previous one is being written keeps one core busy
    instead of waiting for InfluxDB. Batches are written and acknowledged strictly in the
    order they were received.
    """

    def __init__(
        self,
        source: MessageSource,
        store: InfluxStore,
        metrics: IngestMetrics,
        skew: SkewCorrector,
        options: WorkerOptions,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        """Wire the worker to its source, store and metrics; clocks are injectable for tests."""
        self._source = source
        self._store = store
        self._metrics = metrics
        self._skew = skew
        self._last_seq: dict[tuple[str, str, str], int] = {}
        self._options = options
        self._monotonic = monotonic
        self._sleep = sleep
        self._dead = DeadLetters(source, metrics)
        self._pending = _Pending()
        self._handoff: queue.Queue[_Pending | None] = queue.Queue(maxsize=options.write_queue)
        self._stop_deadline: float | None = None
        self._gave_up = False

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; then store what was received, or leave it unacknowledged."""
        options = self._options
        writer = threading.Thread(target=self._write_loop, args=(stop,), name="ingest-writer")
        writer.start()
        try:
            while not stop.is_set():
                if not self._pending.messages:
                    message = self._source.get(0.1)
                    if message is None:
                        continue
                    self._pending.started = self._monotonic()
                    self.accept(message)
                message = self._source.get(0)
                if message is not None:
                    self.accept(message)
                elif not self._batch_due():
                    # Waking up for every single message costs a thread switch each; a short
                    # nap lets a burst gather in the queue and be taken in one go.
                    self._sleep(options.poll_seconds)
                if self._batch_full() or self._batch_due():
                    self._hand_over()
        finally:
            if self._pending.messages:
                self._hand_over()
            self._handoff.put(None)
            writer.join()

    def _batch_full(self) -> bool:
        pending, options = self._pending, self._options
        return (
            len(pending.lines) >= options.batch_points
            or len(pending.messages) >= options.batch_messages
        )

    def _batch_due(self) -> bool:
        pending = self._pending
        return bool(pending.messages) and (
            self._monotonic() >= pending.started + self._options.batch_seconds
        )

    def _hand_over(self) -> None:
        """Queue the pending batch for the writer; blocks while the writer is busy."""
        self._handoff.put(self._pending)
        self._pending = _Pending()

    def _write_loop(self, stop: threading.Event) -> None:
        """Writer thread: store and acknowledge batches in order until the sentinel arrives."""
        while (batch := self._handoff.get()) is not None:
            self._store_batch(batch, stop)

    def accept(self, message: InMessage) -> None:
        """Validate one message and add its readings to the pending batch."""
        pending = self._pending
        pending.messages.append(message)
        try:
            topic, channel = parse_topic(message.topic)
        except ProtocolError as exc:
            letter = self._dead.reject_message(message, _tenant_of(message.topic), str(exc))
            pending.dead_letters.append(letter)
            return
        if channel is Channel.STATUS:
            self._accept_status(message, topic)
            return
        if channel is not Channel.UP:
            return  # configuration is downlink: the devices' business, not the store's
        try:
            batch = decode_batch(message.payload, max_bytes=self._options.max_message_bytes)
            if batch.device != topic.device:
                raise ProtocolError(
                    f"device {batch.device!r} in the payload differs from {topic.device!r} "
                    "in the topic"
                )
        except ProtocolError as exc:
            pending.dead_letters.append(self._dead.reject_message(message, topic.tenant, str(exc)))
            return
        key = (topic.tenant, topic.site, topic.device)
        if self._options.count_gaps:
            self._count_gap(key, batch.seq)
        shift = self._skew.shift_for(key, batch)
        if shift:
            self._metrics.shifted.inc()
            log.info("shifted batch %d of %s by %d ms (device clock)", batch.seq, key, shift)
        readings, rejected = validate_readings(batch, shift)
        if rejected:
            letter = self._dead.reject_readings(
                message, topic.tenant, rejected, DropReason.INVALID_READING, _context(batch)
            )
            pending.dead_letters.append(letter)
        if readings:
            pending.spans.append(_Span(len(pending.lines), message, topic, batch, readings))
            pending.lines.extend(reading_lines(topic, readings, shift))

    def _accept_status(self, message: InMessage, topic: DeviceTopic) -> None:
        """Keep a device's status (online, spool depth, drops) as a point; refuse a bad one."""
        try:
            report = decode_status(message.payload)
            if report.device != topic.device:
                raise ProtocolError(
                    f"device {report.device!r} in the status differs from {topic.device!r}"
                )
        except ProtocolError as exc:
            letter = self._dead.reject_message(message, topic.tenant, str(exc))
            self._pending.dead_letters.append(letter)
            return
        self._pending.status_lines.append(status_line(topic, report, int(message.received * 1000)))

    def _count_gap(self, key: tuple[str, str, str], seq: int) -> None:
        """Count batches a device numbered but that never arrived (a resend or restart is not)."""
        last = self._last_seq.get(key)
        if last is not None and seq > last + 1:
            missing = seq - last - 1
            self._metrics.sequence_gaps.inc(missing)
            log.warning("%d batch(es) of %s missing before seq %d", missing, key, seq)
        if last is None or seq > last or seq == 0:
            self._last_seq[key] = seq

    def flush(self, stop: threading.Event | None = None) -> bool:
        """Store and acknowledge the pending batch on the calling thread (see _store_batch)."""
        stored = self._store_batch(self._pending, stop or threading.Event())
        if stored:
            self._pending = _Pending()
        return stored

    def _give_up_at(self, stop: threading.Event) -> float | None:
        """After a stop request, the moment by which the writer stops retrying."""
        if stop.is_set() and self._stop_deadline is None:
            self._stop_deadline = self._monotonic() + self._options.shutdown_grace_s
        return self._stop_deadline

    def _store_batch(self, batch: _Pending, stop: threading.Event) -> bool:
        """Store a batch, retrying while the store is down, then acknowledge its messages.

        After a stop request, retries only until the shutdown grace ends; a batch not stored
        by then stays unacknowledged (and so do all later ones, keeping acks in order): the
        broker redelivers them to the next session.
        """
        if self._gave_up:
            return False
        delay = self._options.retry_initial_s
        while True:
            started = self._monotonic()
            try:
                refused = self._store.write_lines(batch.lines + batch.status_lines)
                break
            except StoreUnavailableError as exc:
                self._metrics.store_up.set(0)
                self._metrics.retries.inc()
                log.warning("store unavailable (%s); retrying in %.2f s", exc, delay)
            deadline = self._give_up_at(stop)
            if deadline is not None and self._monotonic() + delay > deadline:
                log.warning("leaving %d messages unacknowledged", len(batch.messages))
                self._gave_up = True
                return False
            self._sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._options.retry_max_s)
        self._metrics.write_seconds.observe(self._monotonic() - started)
        self._metrics.store_up.set(1)
        statuses = [r for r in refused if r.index >= len(batch.lines)]
        refused = [r for r in refused if r.index < len(batch.lines)]
        self._metrics.stored.inc(len(batch.lines) - len(refused))
        self._metrics.statuses.inc(len(batch.status_lines) - len(statuses))
        if statuses:
            self._metrics.dead_lettered.labels(DropReason.STORE_REJECTED.value).inc(len(statuses))
            log.warning("store refused %d status point(s): %s", len(statuses), statuses[0].reason)
        if refused:
            self._dead_letter_refused(batch, refused)
        while not wait_delivered(batch.dead_letters, timeout=5.0):
            log.warning("dead letters not yet acknowledged by the broker; holding the batch")
            deadline = self._give_up_at(stop)
            if deadline is not None and self._monotonic() > deadline:
                self._gave_up = True
                return False
        for message in batch.messages:
            self._source.ack(message)
        self._metrics.messages.inc(len(batch.messages))
        return True

    def _dead_letter_refused(self, batch: _Pending, refused: list[LineRejected]) -> None:
        """Send lines the store refused to the dead-letter topic, grouped by message."""
        starts = [span.start for span in batch.spans]
        by_span: dict[int, list[Rejected]] = {}
        for line in refused:
            index = bisect.bisect_right(starts, line.index) - 1
            span = batch.spans[index]
            position = line.index - span.start
            by_span.setdefault(index, []).append(
                Rejected(
                    position, span.readings[position].to_wire(), f"store refused: {line.reason}"
                )
            )
        for index, rejected in by_span.items():
            span = batch.spans[index]
            letter = self._dead.reject_readings(
                span.message,
                span.topic.tenant,
                rejected,
                DropReason.STORE_REJECTED,
                _context(span.batch),
            )
            batch.dead_letters.append(letter)


def _context(batch: Batch) -> dict[str, object]:
    return {"device": batch.device, "seq": batch.seq, "sent": batch.sent_ms}


def _tenant_of(topic: str) -> str | None:
    """The tenant level of a malformed topic, when it has one, so its owner sees the letter."""
    parts = topic.split("/")
    if len(parts) > 2 and parts[0] == "shinshu" and parts[1] == "v1" and parts[2]:
        return parts[2].replace("+", "_").replace("#", "_")
    return None

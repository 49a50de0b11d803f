"""The store as a sink of the consumer loop: readings written in batches, acked only when safe."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.retry import Backoff, RetryStoppedError
from edge.protocol import Batch, Channel, DeviceTopic, Rejected
from edge.receipts import encode_receipt, receipt_topic
from ingest.clock import SkewCorrector
from ingest.consumer import AckOrder, Consumer, StoreRetry, Ticket
from ingest.deadletter import DeadLetters, batch_context, wait_delivered
from ingest.metrics import DropReason, IngestMetrics
from ingest.parse import Limits, ParsedMessage, internal_error, tenant_of
from ingest.sources.mqtt import Delivery, InMessage, MessageSource
from ingest.spooldrops import SpoolDrops
from storage.batch import ReadingRefused, Refusals, StatusRefused, WriteBatch
from storage.errors import StoreError, StoreUnavailableError
from storage.protocol import ReadingStore
from storage.rollup_marks import RollupMarks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Batching, retry and shutdown limits of a worker."""

    batch_points: int = 5_000
    # The longest a batch waits while the writer is busy; an idle writer takes it at once
    # (`group_commit`), so this bounds latency only under load.
    batch_seconds: float = 0.2
    group_commit: bool = True
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


@dataclass(frozen=True, slots=True)
class _Span:
    """The message one group of readings of the write batch came from."""

    message: InMessage
    topic: DeviceTopic
    batch: Batch
    readings: int


@dataclass(frozen=True, slots=True)
class _Failure:
    """A message whose write raised: its readings (or status point), and why."""

    message: InMessage
    tenant: str
    readings: int
    status: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _StatusPoint:
    """The message a device status point came from, so that a refused point can be returned."""

    message: InMessage
    tenant: str


@dataclass(slots=True)
class _Pending:
    """Messages received since the last hand-over, their write batch and dead letters."""

    # Each message's readings (one group per message) and status points, typed.
    batch: WriteBatch[object]
    tickets: list[Ticket] = field(default_factory=list)
    # By group of `batch`: the message its readings came from.
    spans: dict[int, _Span] = field(default_factory=dict)
    # By status index of `batch`: the message the point came from.
    statuses: list[_StatusPoint] = field(default_factory=list)
    dead_letters: list[Delivery] = field(default_factory=list)
    # The batch numbers of every uplink message, by device: receipts once they are stored.
    receipts: dict[DeviceTopic, list[int]] = field(default_factory=dict)
    started: float = 0.0
    # Whether the tickets were released (stored, or dead-lettered for good).
    released: bool = False


class StoreSink:
    """Collects parsed messages into batches that a writer thread stores and releases, in order.

    Parsing the next batch while the previous one is being written keeps one core busy
    instead of waiting for InfluxDB. Batches are written and released strictly in the order
    they were received, so their messages are acknowledged in that order.
    """

    def __init__(
        self,
        source: MessageSource,
        store: ReadingStore,
        metrics: IngestMetrics,
        acks: AckOrder,
        options: WorkerOptions,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        marks: RollupMarks | None = None,
    ) -> None:
        """Write to `store` (and mark rollups with `marks`); dead letters and receipts go out
        through `source`."""
        self._source = source
        self._marks = marks
        self._store = store
        self._metrics = metrics
        self._acks = acks
        self._last_seq: dict[tuple[str, str, str], int] = {}
        self._options = options
        self._monotonic = monotonic
        self._sleep = sleep
        self._dead = DeadLetters(source, metrics, max_copy_bytes=options.max_message_bytes)
        self._spool_drops = SpoolDrops(metrics.device_spool_dropped)
        self._pending = self._new_pending()
        self._handoff: queue.Queue[_Pending | None] = queue.Queue(maxsize=options.write_queue)
        self._writer: threading.Thread | None = None
        self._gave_up = False
        self._retry = StoreRetry(
            Backoff(options.retry_initial_s, options.retry_max_s),
            self._count_outage,
            grace_s=options.shutdown_grace_s,
            monotonic=monotonic,
            sleep=sleep,
        )

    def _new_pending(self) -> _Pending:
        """An empty batch to fill."""
        return _Pending(self._store.new_batch())

    def start(self, stop: threading.Event) -> None:
        """Start the writer thread."""
        self._writer = threading.Thread(target=self._write_loop, args=(stop,), name="ingest-writer")
        self._writer.start()

    def poll_s(self) -> float:
        """Wait a while for the first message of a batch; take the next ones as they are."""
        return 0.0 if self._pending.tickets else 0.1

    def tick(self, stop: threading.Event, *, idle: bool) -> None:
        """Hand the batch to the writer once the writer is free, or it is full or due."""
        if self._pending.tickets and self._writer_idle():
            # Group commit: an idle writer takes what there is at once (low latency at low
            # rates); while it writes, the next batch gathers (large batches under load).
            self._hand_over()
            return
        if idle and self._pending.tickets and not self._batch_due():
            # Waking up for every single message costs a thread switch each; a short
            # nap lets a burst gather in the queue and be taken in one go.
            self._sleep(self._options.poll_seconds)
        if self._batch_full() or self._batch_due():
            self._hand_over()

    def close(self, stop: threading.Event) -> None:
        """Hand over what is pending and wait for the writer to finish (or give up)."""
        if self._pending.tickets:
            self._hand_over()
        self._handoff.put(None)
        if self._writer is not None:
            self._writer.join()

    def _writer_idle(self) -> bool:
        """Whether the writer thread runs and has no batch queued or being written."""
        return (
            self._options.group_commit
            and self._writer is not None
            and self._handoff.unfinished_tasks == 0
        )

    def _batch_full(self) -> bool:
        pending, options = self._pending, self._options
        return (
            pending.batch.readings >= options.batch_points
            or len(pending.tickets) >= options.batch_messages
        )

    def _batch_due(self) -> bool:
        pending = self._pending
        return bool(pending.tickets) and (
            self._monotonic() >= pending.started + self._options.batch_seconds
        )

    def _hand_over(self) -> None:
        """Queue the pending batch for the writer; blocks while the writer is busy."""
        self._handoff.put(self._pending)
        self._pending = self._new_pending()

    def _write_loop(self, stop: threading.Event) -> None:
        """Writer thread: store and release batches in order until the sentinel arrives."""
        while (batch := self._handoff.get()) is not None:
            try:
                self._store_guarded(batch, stop)
            finally:
                # Only now is the writer free for the next batch (see _writer_idle).
                self._handoff.task_done()

    def take(self, ticket: Ticket, parsed: ParsedMessage, stop: threading.Event) -> None:
        """Add one parsed message to the pending batch; never raises.

        Whatever goes wrong with one message (a bug included) dead-letters that message with
        the reason; the worker goes on with the next.
        """
        pending = self._pending
        if not pending.tickets:
            pending.started = self._monotonic()
        pending.tickets.append(ticket)
        ticket.waiting += 1
        message = ticket.message
        try:
            # Whatever raises, the batch holds all of the message's points or none of them.
            self._take(ticket, parsed, pending)
        except Exception as exc:
            log.exception("failed to handle a message on %r", message.topic)
            self._dead_letter_failed(message, tenant_of(message.topic), exc, pending.dead_letters)

    def _dead_letter_failed(
        self, message: InMessage, tenant: str | None, exc: Exception, letters: list[Delivery]
    ) -> None:
        """Dead-letter a message whose handling raised; if even that fails, it is only counted."""
        try:
            letters.append(
                self._dead.reject_message(message, tenant, internal_error(exc), DropReason.FAILED)
            )
        except Exception:
            self._metrics.dead_lettered.labels(DropReason.FAILED.value).inc()
            log.exception("could not dead-letter the message on %r; dropping it", message.topic)

    def _take(self, ticket: Ticket, parsed: ParsedMessage, pending: _Pending) -> None:
        """One message into the pending batch: its readings, its status point, its dead letter."""
        message = ticket.message
        letter = self._dead.reject_parsed(message, parsed)
        if letter is not None:
            pending.dead_letters.append(letter)
        topic = parsed.topic
        if parsed.refusal is not None or topic is None:
            return
        if parsed.status is not None:
            self._spool_drops.report(topic, parsed.status.spool_dropped)
            received_ms = int(message.received * 1000)
            pending.batch.add_status(topic, parsed.status, received_ms)
            pending.statuses.append(_StatusPoint(message, topic.tenant))
            return
        if parsed.batch is not None:
            self._accept_batch(message, topic, parsed, pending)
        elif parsed.channel in (Channel.CONFIG, Channel.ACK):
            # Downlink (configuration, receipts): the devices' business, not the store's.
            ticket.downlink = True

    def _accept_batch(
        self, message: InMessage, topic: DeviceTopic, parsed: ParsedMessage, pending: _Pending
    ) -> None:
        """Add an uplink batch's valid readings (the rejected ones are dead-lettered)."""
        batch = parsed.batch
        assert batch is not None
        key = (topic.tenant, topic.site, topic.device)
        pending.receipts.setdefault(topic, []).append(batch.seq)
        missing = self._count_gap(key, batch.seq) if self._options.count_gaps else 0
        if parsed.shift_ms:
            self._metrics.shifted.inc()
            log.info(
                "shifted batch %d of %s by %d ms (device clock)", batch.seq, key, parsed.shift_ms
            )
        if parsed.readings:
            group = pending.batch.add_readings(topic, parsed.readings, parsed.shift_ms, missing)
            pending.spans[group] = _Span(message, topic, batch, len(parsed.readings))

    def _count_gap(self, key: tuple[str, str, str], seq: int) -> int:
        """Count batches a device numbered but that never arrived (a resend or restart is not);
        how many are missing right before this one (its points are flagged with it)."""
        last = self._last_seq.get(key)
        missing = 0
        if last is not None and seq > last + 1:
            missing = seq - last - 1
            self._metrics.sequence_gaps.inc(missing)
            log.warning("%d batch(es) of %s missing before seq %d", missing, key, seq)
        if last is None or seq > last or seq == 0:
            self._last_seq[key] = seq
        return missing

    def flush(self, stop: threading.Event | None = None) -> bool:
        """Store and release the pending batch on the calling thread (see _store_batch)."""
        stored = self._store_guarded(self._pending, stop or threading.Event())
        if stored:
            self._pending = self._new_pending()
        return stored

    def _count_outage(self) -> None:
        """A write failed because the store is unavailable."""
        self._metrics.store_up.set(0)
        self._metrics.retries.inc()

    def _store_guarded(self, batch: _Pending, stop: threading.Event) -> bool:
        """Store a batch; a bug while doing so dead-letters its messages instead of the writer."""
        try:
            return self._store_batch(batch, stop)
        except Exception as exc:
            log.exception("failed to store a batch of %d message(s)", len(batch.tickets))
            self._abandon(batch, exc)
            return True

    def _abandon(self, batch: _Pending, exc: Exception) -> None:
        """Dead-letter and release every message of a batch not yet released."""
        if batch.released:
            return
        letters: list[Delivery] = []
        for ticket in batch.tickets:
            message = ticket.message
            self._dead_letter_failed(message, tenant_of(message.topic), exc, letters)
        if not wait_delivered(letters, timeout=5.0):
            log.warning("%d dead letter(s) not yet acknowledged by the broker", len(letters))
        self._release(batch)

    def _release(self, batch: _Pending) -> None:
        """The batch's messages are dealt with: acknowledge them (in order, after earlier ones)."""
        batch.released = True
        self._acks.release(batch.tickets)

    def _store_batch(self, batch: _Pending, stop: threading.Event) -> bool:
        """Store a batch, retrying while the store is down, then acknowledge its messages.

        After a stop request, retries only until the shutdown grace ends; a batch not stored
        by then stays unacknowledged (and so do all later ones, keeping acks in order): the
        broker redelivers them to the next session.
        """
        if self._gave_up:
            return False
        started = self._monotonic()

        def attempt() -> tuple[Refusals, list[_Failure]]:
            """One write; the histogram times the attempt that worked."""
            nonlocal started
            started = self._monotonic()
            result = self._write(batch)
            self._mark(batch)
            return result

        try:
            refused, failed_points = self._retry(attempt, stop)
        except RetryStoppedError:
            log.warning("leaving %d messages unacknowledged", len(batch.tickets))
            self._gave_up = True
            return False
        self._metrics.write_seconds.observe(self._monotonic() - started)
        self._metrics.store_up.set(1)
        self._count_and_dead_letter(batch, refused, failed_points)
        while not wait_delivered(batch.dead_letters, timeout=5.0):
            log.warning("dead letters not yet acknowledged by the broker; holding the batch")
            if self._retry.past_grace(stop):
                self._gave_up = True
                return False
        self._release(batch)
        self._send_receipts(batch)
        return True

    def _mark(self, batch: _Pending) -> None:
        """Mark the rollup hours of a batch just written; a failure means it is not stored yet.

        Any store error is retried as an outage with the whole batch (rewriting its points is
        idempotent): acknowledging it unmarked would leave its hours' rollups stale for good.
        """
        if self._marks is None or not batch.batch.readings:
            return
        try:
            self._marks.after_stored(batch.batch)
        except StoreUnavailableError:
            raise
        except StoreError as exc:
            raise StoreUnavailableError(f"rollup marks not written: {exc}") from exc

    def _send_receipts(self, batch: _Pending) -> None:
        """Tell each device which of its batches are now stored (or dead-lettered for good).

        Not waited for: a receipt that goes astray only makes the device send the batch again.
        """
        for topic, seqs in batch.receipts.items():
            try:
                self._source.publish(receipt_topic(topic), encode_receipt(seqs))
            except Exception:
                log.exception("could not send the receipt of %s", topic)
                continue
            self._metrics.receipts.inc()

    def _write(self, batch: _Pending) -> tuple[Refusals, list[_Failure]]:
        """Write the batch; what the store refused, and the messages whose write raised.

        StoreUnavailableError passes through (the caller retries everything). Anything else the
        write raises is retried message by message, so that it costs only the message it is in.
        """
        try:
            return self._store.write_batch(batch.batch), []
        except StoreUnavailableError:
            raise
        except Exception:
            log.exception(
                "writing %d point(s) raised; writing them message by message", len(batch.batch)
            )
        parts = [
            (
                batch.batch.select(groups=[group]),
                _Failure(s.message, s.topic.tenant, s.readings, False, ""),
            )
            for group, s in batch.spans.items()
        ]
        parts += [
            (batch.batch.select(statuses=[i]), _Failure(p.message, p.tenant, 0, True, ""))
            for i, p in enumerate(batch.statuses)
        ]
        readings: list[ReadingRefused] = []
        statuses: list[StatusRefused] = []
        failed: list[_Failure] = []
        for part, failure in parts:
            try:
                refused = self._store.write_batch(part)
            except StoreUnavailableError:
                raise
            except Exception as exc:
                log.exception("writing the message on %r raised", failure.message.topic)
                failed.append(dataclasses.replace(failure, reason=internal_error(exc)))
                continue
            readings += refused.readings
            statuses += refused.statuses
        return Refusals(readings, statuses), failed

    def _count_and_dead_letter(
        self, batch: _Pending, refused: Refusals, failed: list[_Failure]
    ) -> None:
        """Count what was stored; dead-letter what the store refused or could not take."""
        failed_readings = sum(f.readings for f in failed)
        failed_statuses = sum(1 for f in failed if f.status)
        written = batch.batch
        now = time.time()
        for ticket in batch.tickets:
            self._metrics.receive_to_stored.observe(max(0.0, now - ticket.message.received))
        self._metrics.stored.inc(written.readings - len(refused.readings) - failed_readings)
        self._metrics.statuses.inc(written.statuses - len(refused.statuses) - failed_statuses)
        for status in refused.statuses:
            point = batch.statuses[status.index]
            letter = self._dead.reject_message(
                point.message,
                point.tenant,
                f"store refused: {status.reason}",
                DropReason.STORE_REJECTED,
            )
            batch.dead_letters.append(letter)
        for failure in failed:
            letter = self._dead.reject_message(
                failure.message, failure.tenant, failure.reason, DropReason.FAILED
            )
            batch.dead_letters.append(letter)
        if refused.readings:
            self._dead_letter_refused(batch, refused.readings)

    def _dead_letter_refused(self, batch: _Pending, refused: list[ReadingRefused]) -> None:
        """Send readings the store refused to the dead-letter topic, grouped by message."""
        by_group: dict[int, list[Rejected]] = {}
        for item in refused:
            by_group.setdefault(item.group, []).append(
                Rejected(item.position, item.reading.to_wire(), f"store refused: {item.reason}")
            )
        for group, rejected in by_group.items():
            span = batch.spans[group]
            letter = self._dead.reject_readings(
                span.message,
                span.topic.tenant,
                rejected,
                DropReason.STORE_REJECTED,
                batch_context(span.batch),
            )
            batch.dead_letters.append(letter)


class IngestWorker:
    """Ingest: the consumer loop with the store as its sink."""

    def __init__(
        self,
        source: MessageSource,
        store: ReadingStore,
        metrics: IngestMetrics,
        skew: SkewCorrector,
        options: WorkerOptions,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        marks: RollupMarks | None = None,
    ) -> None:
        """Wire the worker to its source, store and metrics (and rollup `marks`, if enabled);
        clocks are injectable for tests."""
        acks = AckOrder(source, metrics)
        self._sink = StoreSink(
            source, store, metrics, acks, options, monotonic=monotonic, sleep=sleep, marks=marks
        )
        limits = Limits(max_message_bytes=options.max_message_bytes)
        self._consumer = Consumer(source, self._sink, acks, skew, limits)

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; then store what was received, or leave it unacknowledged."""
        self._consumer.run(stop)

    def accept(self, message: InMessage) -> None:
        """Parse one message into the pending batch; never raises."""
        self._consumer.accept(message)

    def flush(self, stop: threading.Event | None = None) -> bool:
        """Store and acknowledge the pending batch on the calling thread."""
        return self._sink.flush(stop)

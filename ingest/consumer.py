"""The consumer loop of the server's services: one decode per message, a sink, ordered acks.

Ingest (the store as sink, `ingest.worker`) and the alerts service (the detectors as sink) read
device messages the same way. A message is taken from the source, parsed once with
`parse_message` (with the device clock correction), and handed with its parse result to the
sink. It is acknowledged once the sink has released it and every message received before it is
acknowledged, whichever thread releases it. The sinks' store calls are retried with
core.retry's backoff while the store is down; after a stop request the retries end once a grace
period has passed, and what is unfinished stays unacknowledged for the next session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core.retry import Backoff, RetryStoppedError, retry
from ingest.clock import SkewCorrector
from ingest.metrics import ServiceMetrics
from ingest.parse import Limits, ParsedMessage, parse_message, refused_by_bug
from ingest.sources.mqtt import InMessage, MessageSource
from storage.errors import StoreUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Ticket:
    """A received message: acknowledged once its sink is done with it, and all before it are."""

    message: InMessage
    # Parts of the message (its batch, its readings) that a sink still holds.
    waiting: int = 0
    # Set once the sink has seen the whole message.
    handled: bool = False
    # A configuration or receipt message on the subscription, acknowledged unread.
    downlink: bool = False


class AckOrder:
    """Acknowledges messages strictly in the order received; safe to use from any thread."""

    def __init__(self, source: MessageSource, metrics: ServiceMetrics) -> None:
        """Acknowledge through `source`; count each acknowledged message in `metrics`."""
        self._source = source
        self._metrics = metrics
        self._lock = threading.Lock()
        self._open: deque[Ticket] = deque()

    def open(self, message: InMessage) -> Ticket:
        """The ticket of a message just received."""
        ticket = Ticket(message)
        with self._lock:
            self._open.append(ticket)
        return ticket

    def __len__(self) -> int:
        """Messages received and not yet acknowledged."""
        with self._lock:
            return len(self._open)

    def done(self, ticket: Ticket) -> None:
        """The sink has seen the whole message; acknowledge whatever is now finished."""
        with self._lock:
            ticket.handled = True
            self._acknowledge_finished()

    def release(self, tickets: Iterable[Ticket]) -> None:
        """One held part of each ticket (once per mention) is dealt with; acknowledge in order."""
        with self._lock:
            for ticket in tickets:
                ticket.waiting -= 1
            self._acknowledge_finished()

    def _acknowledge_finished(self) -> None:
        """Acknowledge the finished tickets at the head of the line (the caller holds the lock)."""
        while self._open and self._open[0].handled and self._open[0].waiting <= 0:
            ticket = self._open.popleft()
            try:
                self._source.ack(ticket.message)
            except Exception:
                # Dealt with all the same: the broker redelivers it, and storing is idempotent.
                log.exception("could not acknowledge the message on %r", ticket.message.topic)
            self._metrics.acknowledged(downlink=ticket.downlink)


class StoreRetry:
    """Store calls retried with backoff while the store is unavailable.

    After a stop request the retries go on only until `grace_s` has passed (0: they end at
    once); then RetryStoppedError is raised from the last failure.
    """

    def __init__(
        self,
        backoff: Backoff,
        on_outage: Callable[[], None],
        *,
        grace_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        """`on_outage()` hears of every failed attempt (to count it)."""
        self._backoff = backoff
        self._on_outage = on_outage
        self._grace_s = grace_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._deadline: float | None = None

    def give_up_at(self, stop: threading.Event) -> float | None:
        """After a stop request, the moment by which waiting for the store ends."""
        if stop.is_set() and self._deadline is None:
            self._deadline = self._monotonic() + self._grace_s
        return self._deadline

    def past_grace(self, stop: threading.Event) -> bool:
        """Whether a stop request came and its grace period is over."""
        deadline = self.give_up_at(stop)
        return deadline is not None and self._monotonic() > deadline

    def __call__(self, action: Callable[[], T], stop: threading.Event) -> T:
        """`action()`, retried while it raises StoreUnavailableError."""

        def failed(exc: Exception, delay: float) -> bool:
            """Count the outage; go on unless the grace period would end during the wait."""
            self._on_outage()
            log.warning("store unavailable (%s); retrying in %.2f s", exc, delay)
            deadline = self.give_up_at(stop)
            return deadline is None or self._monotonic() + delay <= deadline

        return retry(
            action,
            transient=StoreUnavailableError,
            backoff=self._backoff,
            on_failure=failed,
            sleep=self._sleep,
        )


class Sink(Protocol):
    """What a consumer hands each parsed message to (the store, the detectors)."""

    def start(self, stop: threading.Event) -> None:
        """The loop begins."""

    def take(self, ticket: Ticket, parsed: ParsedMessage, stop: threading.Event) -> None:
        """Deal with one message; a part of it still pending holds its ticket (`waiting`)."""

    def poll_s(self) -> float:
        """How long the loop may wait for the next message."""

    def tick(self, stop: threading.Event, *, idle: bool) -> None:
        """Time-driven work, after each message (`idle`: the wait for one ended empty)."""

    def close(self, stop: threading.Event) -> None:
        """The loop ends: finish what can be finished; the rest stays unacknowledged."""


class Consumer:
    """Messages from a source, each parsed once and handed to the sink, acknowledged in order."""

    def __init__(
        self,
        source: MessageSource,
        sink: Sink,
        acks: AckOrder,
        skew: SkewCorrector,
        limits: Limits,
    ) -> None:
        """`skew` corrects device clocks (the same for every service, so times agree)."""
        self._source = source
        self._sink = sink
        self._acks = acks
        self._skew = skew
        self._limits = limits

    def accept(self, message: InMessage, stop: threading.Event | None = None) -> Ticket:
        """Parse one message and hand it to the sink; never raises but to stop the loop."""
        ticket = self._acks.open(message)
        self._sink.take(ticket, self._parse(message), stop or threading.Event())
        self._acks.done(ticket)
        return ticket

    def _parse(self, message: InMessage) -> ParsedMessage:
        """The message's one decode; a bug in it refuses the message as `failed`."""
        try:
            return parse_message(
                message.topic, message.payload, self._limits, shift=self._skew.shift_for
            )
        except Exception as exc:
            log.exception("failed to handle a message on %r", message.topic)
            return refused_by_bug(message.topic, exc)

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set (or the sink gives up waiting for the store)."""
        sink = self._sink
        sink.start(stop)
        try:
            while not stop.is_set():
                message = self._source.get(sink.poll_s())
                if message is not None:
                    self.accept(message, stop)
                sink.tick(stop, idle=message is None)
        except RetryStoppedError:
            pass
        finally:
            sink.close(stop)
        if self._acks:
            log.info("leaving %d message(s) unacknowledged for the next session", len(self._acks))

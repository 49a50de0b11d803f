"""The uplink: spooled batches to the broker, oldest first, deleted only once they are safe.

Safe means stored: ingest's receipt on `.../ack` names the batches it wrote (with
`delivery = "broker"`, the broker's PUBACK is enough). A batch the broker acknowledged but
whose receipt has not come is kept and sent again after a reconnect, or when later batches got
their receipts and it did not; duplicates are harmless, the store keeps one point per key.

One thread owns the connection. It reconnects with exponential backoff and jitter, re-sends
the batches a lost connection (or a crash) left unconfirmed, with their numbers, then
claims new batches from the spool: when a full batch waits, or when the oldest unsent reading
has lingered long enough. Messages go out at most `drain_rate` per second, which only binds
while a backlog drains, so a fleet coming back after an outage does not flood the broker. At
most `inflight` messages (batches and status) await their PUBACK at any time.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.backoff import Backoff
from edge.clock import AgentClock
from edge.config import AgentConfig, Delivery
from edge.credentials import CredentialError, read_secret_file
from edge.mqtt import (
    MqttEndpoint,
    MqttError,
    Publisher,
    close_client,
    connect,
    make_client,
    on_connection_lost,
    set_will,
    subscribe_topics,
)
from edge.protocol import Channel, DeviceTopic, encode_batch
from edge.receipts import decode_receipt, receipt_topic
from edge.spool import SYNCED_FRAME, Spool, SpooledBatch
from edge.status import AgentState, Health, offline_document

log = logging.getLogger(__name__)

StatusSource = Callable[[AgentState], bytes]
ConfigSink = Callable[[bytes], None]


class Pacer:
    """At most `rate` events per second, evenly spaced (no bursts, even after idling)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`clock` returns monotonic seconds."""
        self._gap = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    def wait_s(self) -> float:
        """Seconds until the next event is allowed (0 if now)."""
        return max(0.0, self._next - self._clock())

    def take(self) -> None:
        """Record an event."""
        self._next = max(self._next, self._clock()) + self._gap


@dataclass(frozen=True, slots=True)
class _Puback:
    """The broker took batch `seq`; `heard` says whether a subscription matched."""

    seq: int
    heard: bool


@dataclass(frozen=True, slots=True)
class _Receipt:
    """Ingest stored these batches."""

    seqs: tuple[int, ...]


@dataclass
class _Session:
    """One connection: a fresh client and publisher, abandoned when the connection drops."""

    client: object
    publisher: Publisher
    lost: threading.Event


class Uplink:
    """The publishing thread's logic; `run()` returns after `stop` is set."""

    def __init__(
        self,
        config: AgentConfig,
        spool: Spool,
        clock: AgentClock,
        *,
        health: Health,
        status: StatusSource,
        on_config: ConfigSink,
        stop: threading.Event,
        current_frame: Callable[[], int],
        writer_done: threading.Event,
        rng: random.Random | None = None,
    ) -> None:
        """Wire the uplink to the spool, the clock and the agent's status and config hooks."""
        self._config = config
        self._spool = spool
        self._clock = clock
        self._health = health
        self._status = status
        self._on_config = on_config
        self._stop = stop
        self._current_frame = current_frame
        self._writer_done = writer_done
        self._endpoint = MqttEndpoint.from_url(config.mqtt_url)
        device = DeviceTopic(config.tenant, config.site, config.device).validate()
        self._topics = {channel: device.topic(channel) for channel in Channel}
        self._receipt_topic = receipt_topic(device)
        self._stored = config.delivery is Delivery.STORED
        self._backoff = Backoff(config.backoff_base_s, config.backoff_cap_s, rng)
        self._pacer = Pacer(config.drain_rate, clock.mono)
        self._wake = threading.Event()
        # PUBACKs and receipts from paho's thread, in the order they arrived: a receipt for
        # a resent batch may come before the resend's PUBACK, and must not be undone by it.
        self._events: collections.deque[_Puback | _Receipt] = collections.deque()
        # Batches the broker acknowledged, awaiting their receipt: when each was delivered, and
        # whether a subscriber was there to hear it.
        self._delivered_at: dict[int, tuple[float, bool]] = {}
        self._last_receipt = float("-inf")
        self._refusals_seen = 0
        self._unsent = 0
        self._unsent_since = 0.0
        self._unsent_lock = threading.Lock()
        self._status_due = 0.0

    def notify(self, count: int) -> None:
        """`count` new readings were committed to the spool."""
        with self._unsent_lock:
            first = self._unsent <= 0
            if first:
                self._unsent_since = self._clock.mono()
            self._unsent += count
            full = self._unsent >= self._config.batch_max_readings
        # Wake the uplink to start the linger timer, or to send a full batch.
        if first or full:
            self._wake.set()

    def wake(self) -> None:
        """Look at the spool and the stop flag now rather than at the next due time."""
        self._wake.set()

    def request_status(self) -> None:
        """Publish a status message as soon as possible (e.g. after a config change)."""
        self._status_due = 0.0
        self._wake.set()

    def run(self) -> None:
        """Connect, publish, reconnect, until stopped; then say offline and disconnect."""
        while not self._stop.is_set():
            session = self._connect()
            if session is None:
                return
            try:
                self._serve(session)
            except MqttError as exc:
                log.warning("uplink: %s", exc)
                self._health.uplink_error = str(exc)
            except Exception as exc:  # one failure must not end publishing for good
                log.exception("uplink failed; reconnecting")
                self._health.uplink_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(1.0)
            finally:
                if self._stop.is_set() and not session.lost.is_set():
                    self._say_goodbye(session)
                session.publisher.close()
                close_client(session.client)  # type: ignore[arg-type]
                self._apply_acks()
                self._spool.unpin_all()

    def _connect(self) -> _Session | None:
        """A connected session, retrying with backoff; None if stopped meanwhile."""
        config = self._config
        while not self._stop.is_set():
            try:
                endpoint = self._login()
                client = make_client(
                    endpoint,
                    config.client_id,
                    max_inflight=config.inflight,
                    protocol=config.mqtt_protocol,
                )
            except (CredentialError, MqttError) as exc:
                self._health.uplink_error = str(exc)
                delay = self._backoff.next_delay()
                log.warning("uplink: %s; retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                continue
            publisher = Publisher(client, window=config.inflight)
            lost = threading.Event()

            def dropped(
                reason: str, lost: threading.Event = lost, pub: Publisher = publisher
            ) -> None:
                """The connection is gone: fail waiting publishes, wake the uplink."""
                lost.set()
                pub.close()
                self._wake.set()

            on_connection_lost(client, dropped)
            set_will(client, self._topics[Channel.STATUS], offline_document(config.device))
            try:
                connect(client, endpoint, keepalive=config.keepalive_s, timeout=10.0)
            except MqttError as exc:
                self._health.uplink_error = str(exc)
                delay = self._backoff.next_delay()
                log.info("uplink: %s; retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                continue
            self._backoff.reset()
            self._health.reconnects += 1
            handlers = {self._topics[Channel.CONFIG]: lambda _t, p: self._on_config(p)}
            if self._stored:
                handlers[self._receipt_topic] = lambda _t, p: self._on_receipt(p)
            subscribe_topics(client, handlers)
            log.info("uplink: connected to %s", endpoint)
            return _Session(client, publisher, lost)
        return None

    def _login(self) -> MqttEndpoint:
        """The broker as this device, its secret re-read each time: a rotation needs no restart."""
        config = self._config
        endpoint = self._endpoint
        password_path = config.password_path
        password = read_secret_file(password_path) if password_path is not None else None
        endpoint = endpoint.with_login(
            config.mqtt_username or endpoint.username or config.client_id, password
        )
        if endpoint.tls:
            endpoint = endpoint.with_tls_files(
                config.mqtt_ca_file, config.mqtt_cert_file, config.mqtt_key_file
            )
        return endpoint

    def _on_ack(self, seq: int, heard: bool) -> None:
        """PUBACK for batch `seq` (paho's thread): hand it to the uplink thread.

        `heard` is False when no subscription matched: nobody has the batch (e.g. a broker
        that restarted without ingest's session, before ingest subscribed again).
        """
        self._events.append(_Puback(seq, heard))
        self._wake.set()

    def _on_receipt(self, payload: bytes) -> None:
        """Ingest stored some batches (paho's thread): hand their numbers to the uplink thread."""
        try:
            seqs = decode_receipt(payload)
        except ValueError as exc:
            log.warning("uplink: ignored a malformed receipt: %s", exc)
            return
        self._events.append(_Receipt(tuple(seqs)))
        self._wake.set()

    def _apply_acks(self) -> None:
        """Delete stored batches from the spool; mark those the broker took as delivered."""
        now = self._clock.mono()
        while self._events:
            event = self._events.popleft()
            if isinstance(event, _Receipt):
                for seq in event.seqs:
                    self._spool.ack(seq)
                    self._delivered_at.pop(seq, None)
                self._last_receipt = now
            elif not self._stored:
                if not event.heard:
                    log.warning("uplink: batch %d reached no subscriber and is gone", event.seq)
                self._spool.ack(event.seq)
            elif self._spool.delivered(event.seq):
                # Only a batch still spooled awaits its receipt (an earlier one may have come).
                self._delivered_at[event.seq] = (now, event.heard)

    def _overdue(self, now: float) -> list[int]:
        """Batches to send again: a receipt came after them, and theirs never will.

        A batch no subscriber heard is resent as soon as ingest is back (its receipts flow
        again); one that was heard gets `receipt_timeout_s` for its own receipt first.
        """
        timeout = self._config.receipt_timeout_s
        late = [
            seq
            for seq, (at, heard) in self._delivered_at.items()
            if self._last_receipt > at and (not heard or now - at > timeout)
        ]
        for seq in late:
            del self._delivered_at[seq]
        if late:
            log.warning("uplink: no receipt for %d delivered batch(es); sending again", len(late))
        return late

    def _note_refusals(self, publisher: Publisher) -> None:
        """A message the broker refused stays spooled; say why in the status and the log."""
        if publisher.refused_count != self._refusals_seen:
            self._refusals_seen = publisher.refused_count
            reason = publisher.refused[-1] if publisher.refused else "refused"
            self._health.uplink_error = f"the broker refused a message: {reason}"
            log.error("uplink: %s (is this device registered for its site?)", reason)

    def _serve(self, session: _Session) -> None:
        """Publish until the connection drops or the agent stops."""
        config = self._config
        self._apply_acks()
        # Everything not yet confirmed stored: a broker that restarted may have lost it.
        self._delivered_at.clear()
        self._refusals_seen = 0
        resend = collections.deque(self._spool.unacked_seqs())
        cursor = self._spool.last_claimed_id()
        with self._unsent_lock:
            self._unsent = self._spool.count_after(cursor)
            self._unsent_since = self._clock.mono()
        self._status_due = 0.0
        deadline: float | None = None
        while not session.lost.is_set():
            self._wake.clear()
            self._apply_acks()
            now = self._clock.mono()
            self._note_refusals(session.publisher)
            if self._delivered_at and self._last_receipt > float("-inf"):
                resend.extend(self._overdue(now))
            if self._stop.is_set():
                # Stopping: send what is spooled and wait for receipts, within the grace period.
                deadline = deadline or now + config.shutdown_grace_s
                # In this order: once nothing is in flight, every PUBACK is among the events.
                idle = (
                    not resend
                    and self._unsent <= 0
                    and session.publisher.in_flight == 0
                    and not self._events
                    and not self._delivered_at
                )
                if now >= deadline or (idle and self._writer_done.is_set()):
                    return
            if now >= self._status_due:
                self._status_due = now + config.status_interval_s
                payload = self._status(AgentState.ONLINE)
                session.publisher.publish(self._topics[Channel.STATUS], payload, retain=True)
            wait = self._pacer.wait_s()
            if wait > 0:
                self._wake.wait(wait)
                continue
            if resend:
                # Re-sent with its number; whatever the cap dropped meanwhile is left out.
                resumed = self._spool.resume(resend.popleft())
                if resumed is not None:
                    self._send(session.publisher, resumed)
                continue
            with self._unsent_lock:
                unsent, since = self._unsent, self._unsent_since
            lingered = deadline is not None or now - since >= config.batch_linger_s
            if unsent > 0 and (unsent >= config.batch_max_readings or lingered):
                batch = self._spool.claim(
                    cursor, config.batch_max_readings, config.batch_max_bytes, pin=True
                )
                with self._unsent_lock:
                    if batch is None:
                        self._unsent = 0
                    else:
                        self._unsent = max(0, self._unsent - len(batch.readings))
                        self._unsent_since = now
                if batch is not None:
                    cursor = batch.last_id
                    self._send(session.publisher, batch)
                continue
            timeout = self._status_due - now
            if unsent > 0:
                timeout = min(timeout, since + config.batch_linger_s - now)
            if deadline is not None:
                timeout = min(timeout, 0.05)
            self._wake.wait(max(0.001, timeout))

    def _send(self, publisher: Publisher, batch: SpooledBatch) -> None:
        """Publish one batch with the send time of its clock frame."""
        if batch.frame == self._current_frame():
            sent_ms, synced = self._clock.now_ms(), batch.frame == SYNCED_FRAME
        else:
            # A frame of an earlier run: its "now" is unknown, the newest reading is the bound.
            sent_ms = max(reading.ts_ms for reading in batch.readings)
            synced = batch.frame == SYNCED_FRAME
        payload = encode_batch(
            self._config.device, batch.seq, sent_ms, list(batch.readings), clock_synced=synced
        )
        self._pacer.take()
        publisher.publish(
            self._topics[Channel.UP],
            payload,
            lambda heard, seq=batch.seq: self._on_ack(seq, heard),
        )

    def _say_goodbye(self, session: _Session) -> None:
        """On a clean stop: retained offline status, and a moment for outstanding PUBACKs."""
        try:
            session.publisher.publish(
                self._topics[Channel.STATUS], self._status(AgentState.OFFLINE), retain=True
            )
            session.publisher.flush(timeout=3.0)
        except MqttError as exc:
            log.info("uplink: could not say goodbye: %s", exc)

"""`shinshu notify`: the dispatcher and the deliverer over one outbox, until SIGTERM or SIGINT.

Two loops share the outbox: the dispatcher queues the notifications of new alerts (every
`notify_poll_s`, with a sweep of the last day every `notify_sweep_s`), the deliverer sends what
is due. Both survive any one failure: a store that cannot be read, a receiver that is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from core.metrics import serve_metrics
from core.settings import Settings
from notify.chat import ChatChannel
from notify.deliverer import Deliverer, RetryPolicy
from notify.dispatcher import Dispatcher
from notify.email import EmailChannel, Security, SmtpServer
from notify.outbox import Outbox, Queued, State
from notify.push import PushChannel, load_vapid
from notify.subscriptions import ChannelKind, Subscription, Subscriptions
from notify.types import Channel, Outcome
from notify.webhook import WebhookChannel, WebhookTarget
from storage import open_store
from storage.alerts import AlertStore

log = logging.getLogger(__name__)


class NotifyMetrics:
    """What the notifier counts; exposed for Prometheus."""

    def __init__(self, outbox: Outbox) -> None:
        """Counters, and gauges read from the outbox at each scrape."""
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "shinshu_notify_attempts_total",
            "delivery attempts by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.queued = Counter(
            "shinshu_notify_queued_total", "notifications queued", registry=self.registry
        )
        states = Gauge(
            "shinshu_notify_notifications",
            "notifications in the outbox by channel and state (dead: dead letters)",
            ["channel", "state"],
            registry=self.registry,
        )
        self._states = states
        self._outbox = outbox

    def refresh(self) -> None:
        """Update the outbox gauges."""
        for (channel, state), n in self._outbox.counts().items():
            self._states.labels(channel, state.value).set(n)

    def outcome(self, item: Queued, outcome: Outcome) -> None:
        """Count one attempt."""
        label = "delivered" if outcome.ok else ("refused" if outcome.permanent else "retried")
        self.attempts.labels(item.channel, label).inc()


def _channels(settings: Settings, subscriptions: Subscriptions) -> dict[str, Channel]:
    def subscription(destination: str, kind: ChannelKind) -> Subscription | None:
        sub_id = destination.removesuffix(":held")
        sub = next((s for s in subscriptions.all() if s.id == sub_id), None)
        return sub if sub is not None and sub.channel is kind else None

    def webhook(destination: str) -> WebhookTarget | None:
        sub = subscription(destination, ChannelKind.WEBHOOK)
        return None if sub is None else WebhookTarget(sub.target, sub.secret.encode())

    def push(destination: str) -> str | None:
        sub = subscription(destination, ChannelKind.PUSH)
        return None if sub is None else sub.target

    def chat(destination: str) -> str | None:
        sub = subscription(destination, ChannelKind.APPRISE)
        return None if sub is None else sub.target

    channels: dict[str, Channel] = {
        "webhook": WebhookChannel(webhook),
        "apprise": ChatChannel(chat),
    }
    if settings.notify_vapid_contact:
        key = load_vapid(settings.vapid_path)
        channels["push"] = PushChannel(key, settings.notify_vapid_contact, push)
    if settings.notify_smtp_host:
        server = SmtpServer(
            settings.notify_smtp_host,
            settings.notify_smtp_port,
            settings.notify_smtp_sender or "",
            Security(settings.notify_smtp_security),
            settings.notify_smtp_username,
            settings.smtp_password(),
            ca_file=settings.notify_smtp_ca_file,
        )
        channels["email"] = EmailChannel(server)
    return channels


def _loop(stop: threading.Event, every_s: float, step: Callable[[], object], name: str) -> None:
    while not stop.is_set():
        try:
            step()
        except Exception:
            log.exception("%s failed; trying again", name)
        stop.wait(every_s)


def run_notifier(settings: Settings, stop: threading.Event) -> None:
    """Queue and deliver notifications until `stop` is set."""
    outbox = Outbox(settings.notify_path)
    subscriptions = Subscriptions(settings.notify_path)
    store = open_store(settings)
    dispatcher = Dispatcher(AlertStore(store), subscriptions, outbox)
    metrics = NotifyMetrics(outbox)
    policy = RetryPolicy(
        cap_s=settings.notify_retry_max_s, give_up_after_s=settings.notify_give_up_h * 3600
    )
    deliverer = Deliverer(
        outbox, _channels(settings, subscriptions), policy=policy, on_outcome=metrics.outcome
    )
    if settings.notify_metrics_port:
        serve_metrics(
            metrics.registry,
            settings.notify_metrics_port,
            settings.metrics_host,
            "SHINSHU_NOTIFY_METRICS_PORT",
            lambda: None if store.ready() else "the store does not answer",
        )
    last_sweep = [0.0]

    def dispatch() -> None:
        sweep = time.monotonic() - last_sweep[0] >= settings.notify_sweep_s
        if sweep:
            last_sweep[0] = time.monotonic()
        metrics.queued.inc(dispatcher.run_once(sweep=sweep))
        metrics.refresh()

    threads = [
        threading.Thread(
            target=_loop, args=(stop, settings.notify_poll_s, dispatch, "dispatch"), daemon=True
        ),
        threading.Thread(target=deliverer.run, args=(stop,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    log.info("notifier started: outbox %s", settings.notify_path)
    stop.wait()
    for thread in threads:
        thread.join(30)
    deliverer.close()
    outbox.close()
    subscriptions.close()
    log.info("notifier stopped; %s pending", outbox_pending(settings))


def outbox_pending(settings: Settings) -> int:
    """How many notifications wait in the outbox (for the stop message)."""
    outbox = Outbox(settings.notify_path)
    try:
        return sum(n for (_, state), n in outbox.counts().items() if state is State.PENDING)
    finally:
        outbox.close()

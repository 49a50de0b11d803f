"""`shinshu ingest`, and any consumer service: built from settings, run until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.errors import SettingsError
from core.settings import Settings
from ingest.clock import SkewCorrector
from ingest.metrics import IngestMetrics, ServiceMetrics
from ingest.sources.amqp import AmqpSource, make_amqp_source, parse_amqp_hosts
from ingest.sources.mqtt import MqttSource, make_source
from ingest.worker import IngestWorker, WorkerOptions
from storage import open_store
from storage.errors import StoreUnavailableError
from storage.protocol import ReadingStore
from storage.rollup_marks import RollupMarks

log = logging.getLogger(__name__)


def _open_store(settings: Settings) -> ReadingStore:
    """The store of `settings`, its database created if asked and the server answers."""
    store = open_store(settings)
    if settings.influx_create_db:
        try:
            store.ensure_database()
        except StoreUnavailableError as exc:
            # Not fatal: the services hold messages until the store is back.
            log.warning("%s; will keep retrying", exc)
    return store


def start_source(
    source: MqttSource | AmqpSource, endpoint: object, metrics: ServiceMetrics
) -> None:
    """Report the source's backlog and subscription in `metrics`, connect, await the SUBACK."""
    metrics.unacked.set_function(lambda: source.outstanding)
    metrics.subscribed.set_function(lambda: float(source.subscribed.is_set()))
    source.start()
    if not source.subscribed.wait(10):
        log.warning("no SUBACK yet for %s; messages flow once the broker answers", endpoint)


class Service(Protocol):
    """A consumer loop that works until told to stop."""

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a consumer service reads, under which client id (its own persistent session)."""

    client_id: str
    receive_maximum: int
    # A shared subscription group of workers that split the stream (None: all of it).
    group: str | None = None
    # Instead of every device topic (the alerts service reads readings only).
    topic_filter: str | None = None
    # Read a RabbitMQ cluster's quorum queue over AMQP instead (ingest only: see docs/cluster.md).
    amqp: bool = False


# Builds a service from its store, its message source and the device clock correction.
ServiceFactory = Callable[[ReadingStore, MqttSource | AmqpSource, SkewCorrector], Service]


def _source(
    settings: Settings, subscription: Subscription
) -> tuple[MqttSource | AmqpSource, object]:
    """The message source of `subscription` and where it reads from (for logs, no secret)."""
    client_id = subscription.client_id
    if subscription.amqp:
        try:
            hosts, vhost = parse_amqp_hosts(settings.amqp_url)
        except ValueError as exc:
            raise SettingsError(f"SHINSHU_AMQP_URL: {exc}") from exc
        username, password = settings.amqp_login()
        source = make_amqp_source(
            hosts,
            username=username,
            password=password,
            vhost=vhost,
            queue_name=settings.amqp_queue,
            prefetch=subscription.receive_maximum,
        )
        return source, source.nodes
    endpoint = settings.mqtt_endpoint(client_id)
    mqtt = make_source(
        endpoint,
        client_id,
        group=subscription.group,
        topic_filter=subscription.topic_filter,
        receive_maximum=subscription.receive_maximum,
        session_expiry_s=settings.ingest_session_expiry_s,
    )
    return mqtt, endpoint


def run_consumer(
    settings: Settings,
    stop: threading.Event,
    *,
    name: str,
    subscription: Subscription,
    metrics: ServiceMetrics,
    metrics_port: int,
    build: ServiceFactory,
) -> None:
    """Connect a consumer service to the broker and the store and run it until `stop` is set."""
    store = _open_store(settings)
    client_id = subscription.client_id
    source, endpoint = _source(settings, subscription)
    # The same clock correction in every service, so that alert times equal stored times.
    skew = SkewCorrector(int(settings.ingest_skew_threshold_s * 1000), time.time)
    service = build(store, source, skew)

    def ready() -> str | None:
        if not source.subscribed.is_set():
            return "not subscribed at the MQTT broker"
        return None if store.ready() else "the store does not answer"

    metrics.serve(metrics_port, settings.metrics_host, ready)
    start_source(source, endpoint, metrics)
    log.info(
        "%s %s: %s -> %s/%s", name, client_id, endpoint, settings.influx_url, settings.influx_db
    )
    try:
        service.run(stop)
    finally:
        source.stop()
        log.info("%s stopped", name)


def run_ingest(settings: Settings, stop: threading.Event) -> None:
    """Connect to the broker and the store and work until `stop` is set."""
    metrics = IngestMetrics()
    options = WorkerOptions(
        batch_points=settings.ingest_batch_points,
        batch_seconds=settings.ingest_batch_ms / 1000,
        batch_messages=max(1, settings.ingest_receive_maximum // 2),
        retry_max_s=settings.ingest_retry_max_s,
        shutdown_grace_s=settings.ingest_shutdown_grace_s,
        count_gaps=settings.ingest_group is None,
        group_commit=settings.ingest_group_commit,
    )
    run_consumer(
        settings,
        stop,
        name="ingest",
        subscription=Subscription(
            settings.ingest_client_id,
            settings.ingest_receive_maximum,
            group=settings.ingest_group,
            amqp=settings.ingest_source == "amqp",
        ),
        metrics=metrics,
        metrics_port=settings.ingest_metrics_port,
        build=lambda store, source, skew: IngestWorker(
            source,
            store,
            metrics,
            skew,
            options,
            marks=RollupMarks(store, writer=settings.ingest_client_id)
            if settings.rollups_enabled
            else None,
        ),
    )

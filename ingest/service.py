"""`shinshu ingest`: build the worker from settings and run it until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading
import time

from prometheus_client import Gauge

from core.settings import Settings
from edge.mqtt import MqttEndpoint
from ingest.clock import SkewCorrector
from ingest.metrics import IngestMetrics
from ingest.sources.mqtt import MqttSource, make_source
from ingest.stores.influx import InfluxStore, StoreUnavailableError, make_store
from ingest.worker import IngestWorker, WorkerOptions

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> InfluxStore:
    """The store of `settings`, its database created if asked and the server answers."""
    store = make_store(settings)
    if settings.influx_create_db:
        try:
            store.ensure_database()
        except StoreUnavailableError as exc:
            # Not fatal: the services hold messages until the store is back.
            log.warning("%s; will keep retrying", exc)
    return store


def start_source(
    source: MqttSource, endpoint: MqttEndpoint, unacked: Gauge, subscribed: Gauge
) -> None:
    """Report the source's backlog and subscription in the gauges, connect, await the SUBACK."""
    unacked.set_function(lambda: source.outstanding)
    subscribed.set_function(lambda: float(source.subscribed.is_set()))
    source.start()
    if not source.subscribed.wait(10):
        log.warning("no SUBACK yet for %s; messages flow once the broker answers", endpoint)


def run_ingest(settings: Settings, stop: threading.Event) -> None:
    """Connect to the broker and the store and work until `stop` is set."""
    metrics = IngestMetrics()
    metrics.serve(settings.ingest_metrics_port)
    store = open_store(settings)
    endpoint = settings.mqtt_endpoint(settings.ingest_client_id)
    source = make_source(
        endpoint,
        settings.ingest_client_id,
        group=settings.ingest_group,
        receive_maximum=settings.ingest_receive_maximum,
        session_expiry_s=settings.ingest_session_expiry_s,
    )
    worker = IngestWorker(
        source,
        store,
        metrics,
        SkewCorrector(int(settings.ingest_skew_threshold_s * 1000), time.time),
        WorkerOptions(
            batch_points=settings.ingest_batch_points,
            batch_seconds=settings.ingest_batch_ms / 1000,
            batch_messages=max(1, settings.ingest_receive_maximum // 2),
            retry_max_s=settings.ingest_retry_max_s,
            shutdown_grace_s=settings.ingest_shutdown_grace_s,
            count_gaps=settings.ingest_group is None,
        ),
    )
    start_source(source, endpoint, metrics.unacked, metrics.subscribed)
    log.info(
        "ingest %s: %s -> %s/%s",
        settings.ingest_client_id,
        endpoint,
        settings.influx_url,
        settings.influx_db,
    )
    try:
        worker.run(stop)
    finally:
        source.stop()
        log.info("ingest stopped")

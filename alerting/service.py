"""`shinshu alerts`: build the alert loop from settings and run it until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading
import time

from alerting.bins import BinResolver
from alerting.detect import DetectOptions
from alerting.metrics import AlertMetrics
from alerting.processor import AlertProcessor, ProcessorOptions
from alerting.store import AlertStore
from core.settings import Settings
from core.time import MS_PER_HOUR
from edge.protocol import TOPIC_ROOT, Channel
from ingest.clock import SkewCorrector
from ingest.service import open_store, start_source
from ingest.sources.mqtt import make_source

log = logging.getLogger(__name__)

READINGS_FILTER = f"{TOPIC_ROOT}/+/+/+/{Channel.UP.value}"


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """Connect to the broker and the store and raise alerts until `stop` is set."""
    metrics = AlertMetrics()
    metrics.serve(settings.alerts_metrics_port)
    store = open_store(settings)
    endpoint = settings.mqtt_endpoint(settings.alerts_client_id)
    # No group: a shared subscription would split the stream, and each bin needs all of it.
    # Readings only: the account may read nothing else.
    source = make_source(
        endpoint,
        settings.alerts_client_id,
        group=None,
        topic_filter=READINGS_FILTER,
        receive_maximum=settings.alerts_receive_maximum,
        session_expiry_s=settings.ingest_session_expiry_s,
    )
    processor = AlertProcessor(
        source,
        AlertStore(store),
        BinResolver(store, settings.alerts_lead_time_h),
        metrics,
        SkewCorrector(int(settings.ingest_skew_threshold_s * 1000), time.time),
        options=ProcessorOptions(
            history_ms=int(settings.alerts_history_h * MS_PER_HOUR),
            retry_max_s=settings.ingest_retry_max_s,
        ),
        detect=DetectOptions(episode_gap_ms=int(settings.alerts_episode_gap_h * MS_PER_HOUR)),
    )
    start_source(source, endpoint, metrics.unacked, metrics.subscribed)
    log.info(
        "alerts %s: %s -> %s/%s",
        settings.alerts_client_id,
        endpoint,
        settings.influx_url,
        settings.influx_db,
    )
    try:
        processor.run(stop)
    finally:
        source.stop()
        log.info("alerts stopped")

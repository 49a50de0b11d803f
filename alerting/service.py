"""The alerts service: the alert loop built from settings, run until SIGTERM or SIGINT.

Which detectors watch the bins is the caller's (models.stock.serving runs the stock ones).
"""

from __future__ import annotations

import threading

from alerting.bins import BinResolver
from alerting.detect import DetectOptions
from alerting.health import DeviceHealth, HealthOptions, run_health
from alerting.live_rules import LiveRules
from alerting.metrics import AlertMetrics
from alerting.processor import AlertProcessor, BinStates, ProcessorOptions
from alerting.sensors import SensorOptions, SensorWatch, run_sensors
from alerting.thresholds import ThresholdWatch, run_thresholds
from core.settings import Settings
from core.time import MS_PER_HOUR
from edge.protocol import TOPIC_ROOT, Channel
from ingest.clock import SkewCorrector
from ingest.service import Subscription, run_consumer
from ingest.sources.mqtt import MqttSource
from storage import open_store
from storage.alerts import AlertStore
from storage.protocol import ReadingStore

READINGS_FILTER = f"{TOPIC_ROOT}/+/+/+/{Channel.UP.value}"


def _start_checks(settings: Settings, stop: threading.Event) -> list[threading.Thread]:
    """Device and sensor health and threshold rules beside the alert loop, on their own store."""
    store = open_store(settings)
    alerts = AlertStore(store)
    health = DeviceHealth(
        store,
        alerts,
        options=HealthOptions(silent_after_ms=int(settings.alerts_offline_after_s * 1000)),
    )
    threads = [
        threading.Thread(
            target=run_health, args=(health, stop, settings.alerts_health_s), daemon=True
        ),
        threading.Thread(
            target=run_sensors,
            args=(
                SensorWatch(
                    store,
                    alerts,
                    options=SensorOptions(
                        silent_after_ms=int(settings.alerts_sensor_silent_after_s * 1000)
                    ),
                ),
                stop,
                settings.alerts_health_s,
            ),
            daemon=True,
        ),
        threading.Thread(
            target=run_thresholds,
            args=(ThresholdWatch(store, alerts), stop, settings.alerts_health_s),
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    return threads


def run_alerts(settings: Settings, stop: threading.Event, *, states: BinStates) -> None:
    """Connect to the broker and the store and raise alerts until `stop` is set."""
    metrics = AlertMetrics()
    checks = _start_checks(settings, stop)

    def build(store: ReadingStore, source: MqttSource, skew: SkewCorrector) -> AlertProcessor:
        """The alert loop on the service's store and source."""
        return AlertProcessor(
            source,
            AlertStore(store),
            BinResolver(store, settings.alerts_lead_time_h),
            metrics,
            skew,
            options=ProcessorOptions(
                history_ms=int(settings.alerts_history_h * MS_PER_HOUR),
                retry_max_s=settings.ingest_retry_max_s,
            ),
            detect=DetectOptions(episode_gap_ms=int(settings.alerts_episode_gap_h * MS_PER_HOUR)),
            states=states,
            rules=LiveRules(store, AlertStore(store)),
        )

    run_consumer(
        settings,
        stop,
        name="alerts",
        # No group: a shared subscription would split the stream, and each bin needs all of it.
        # Readings only: the account may read nothing else.
        subscription=Subscription(
            settings.alerts_client_id,
            settings.alerts_receive_maximum,
            topic_filter=READINGS_FILTER,
        ),
        metrics=metrics,
        metrics_port=settings.alerts_metrics_port,
        build=build,
    )
    stop.set()
    for thread in checks:
        thread.join(10)

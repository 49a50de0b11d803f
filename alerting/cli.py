"""`shinshu alerts`: the argparse subcommand (the service is alerting.service with detectors)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings

# Runs an alerts service until the event is set (models.stock.serving.run_alerts).
AlertsService = Callable[["Settings", threading.Event], None]


def add_alerts_command(sub: Any, run: AlertsService) -> None:
    """Register `shinshu alerts`, running `run`, on the top-level subparsers."""

    def _alerts(settings: Settings, _args: argparse.Namespace) -> int:
        """Run the alerts service until SIGTERM/SIGINT (its flags are settings)."""
        from core.signals import install_stop_handlers

        stop = threading.Event()
        install_stop_handlers(stop)
        run(settings, stop)
        return 0

    alerts = sub.add_parser(
        "alerts",
        help="raise stock alerts (anomalies, reorder) from live bin readings and store them",
        description="Subscribes to every device's readings with its own persistent session, "
        "pairs each factory bin's weight and count, runs the stock-anomaly detector and the "
        "stock-out forecast, and stores alerts in InfluxDB (measurement `alerts`).",
    )
    alerts.add_argument("--client-id", dest="alerts_client_id", help="fixed MQTT client id")
    alerts.add_argument(
        "--metrics-port", dest="alerts_metrics_port", type=int, help="Prometheus port, 0 = off"
    )
    alerts.set_defaults(handler=_alerts)

"""`shinshu alerts`: the argparse subcommand (the service itself is in alerting.service)."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings


def _alerts(settings: Settings, _args: argparse.Namespace) -> int:
    """Run the alerts service until SIGTERM/SIGINT (its flags are settings, see shinshu.cli)."""
    from alerting.service import run_alerts
    from core.signals import install_stop_handlers

    stop = threading.Event()
    install_stop_handlers(stop)
    run_alerts(settings, stop)
    return 0


def add_alerts_command(sub: Any) -> None:
    """Register `shinshu alerts` on the top-level subparsers."""
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

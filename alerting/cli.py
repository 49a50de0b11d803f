"""`shinshu alerts`: the argparse subcommand (the service itself is in alerting.service)."""

from __future__ import annotations

import argparse
import dataclasses
import threading
from typing import Any

from shinshu.settings import Settings


def _alerts(settings: Settings, args: argparse.Namespace) -> int:
    """Run the alerts service until SIGTERM/SIGINT."""
    from alerting.service import run_alerts
    from core.signals import install_stop_handlers

    flags = {"alerts_client_id": args.alerts_client_id, "alerts_metrics_port": args.metrics_port}
    settings = dataclasses.replace(settings, **{k: v for k, v in flags.items() if v is not None})
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
    alerts.add_argument("--metrics-port", type=int, help="Prometheus port, 0 = off")
    alerts.set_defaults(handler=_alerts)

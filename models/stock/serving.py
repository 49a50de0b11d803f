"""The alerts service: alerting's loop with the stock detectors watching every bin, and the
model-level checks beside it (the landslide watch over every site's rain gauge).

`shinshu alerts` runs `run_alerts`. Light to import (the command line builds its parser from
it on a Pi too): the service's own modules load when it runs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from alerting.cli import add_alerts_command as _add_alerts_command

if TYPE_CHECKING:
    from core.settings import Settings


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """Raise stock alerts from live bin readings, and landslide alerts from stored rain, and
    store them until `stop` is set."""
    from alerting.service import run_alerts as run_service
    from models.landslide.service import start_landslide
    from models.stock.alerts import BinState

    landslide = start_landslide(settings, stop)
    try:
        run_service(settings, stop, states=BinState)
    finally:
        stop.set()
        landslide.join(10)


def add_alerts_command(sub: Any) -> None:
    """Register `shinshu alerts` (the stock alerts service) on the top-level subparsers."""
    _add_alerts_command(sub, run_alerts)

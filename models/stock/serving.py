"""The alerts service: alerting's loop with the stock detectors watching every bin, and the
model-level checks beside it: the forecasts' (harvest windows) and the landslide watch over
every site's rain gauge.

`shinshu alerts` runs `run_alerts`. Light to import (the command line builds its parser from
it on a Pi too): the service's own modules load when it runs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from alerting.cli import add_alerts_command as _add_alerts_command

if TYPE_CHECKING:
    from core.settings import Settings


def _start_forecast_checks(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Harvest-window alerts from every tenant's field forecasts, on a store of their own."""
    from models.harvest.service import ForecastService
    from models.harvest.watch import HarvestWatch, run_harvest
    from models.store_weather import read_daily_weather
    from storage import open_store
    from storage.alerts import AlertStore

    store = open_store(settings)
    service = ForecastService(store, settings.data_path, read_daily_weather)
    watch = HarvestWatch(
        store,
        AlertStore(store),
        service.fields,
        notice_days=settings.alerts_harvest_notice_days,
    )
    thread = threading.Thread(
        target=run_harvest, args=(watch, stop, settings.alerts_forecast_s), daemon=True
    )
    thread.start()
    _start_field_checks(settings, stop)
    return thread


def _start_field_checks(settings: Settings, stop: threading.Event) -> list[threading.Thread]:
    """Frost-risk and apple scab alerts for every tenant's apple fields, each on its own store."""
    from models.field.scab_watch import ScabWatch, run_scab
    from models.frost.watch import FrostWatch, run_frost
    from storage import open_store
    from storage.alerts import AlertStore

    frost_store, scab_store = open_store(settings), open_store(settings)
    frost = FrostWatch(
        frost_store, AlertStore(frost_store), history_days=settings.alerts_frost_history_days
    )
    scab = ScabWatch(scab_store, AlertStore(scab_store), lookback_h=settings.alerts_scab_lookback_h)
    threads = [
        threading.Thread(target=run_frost, args=(frost, stop, settings.alerts_frost_s)),
        threading.Thread(target=run_scab, args=(scab, stop, settings.alerts_scab_s)),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    return threads


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """Raise stock, device, rule, forecast and landslide alerts and store them until `stop`
    is set."""
    from alerting.service import run_alerts as run_service
    from models.landslide.service import start_landslide
    from models.stock.alerts import BinState

    _start_forecast_checks(settings, stop)
    landslide = start_landslide(settings, stop)
    try:
        run_service(settings, stop, states=BinState)
    finally:
        stop.set()
        landslide.join(10)


def add_alerts_command(sub: Any) -> None:
    """Register `shinshu alerts` (the stock alerts service) on the top-level subparsers."""
    _add_alerts_command(sub, run_alerts)

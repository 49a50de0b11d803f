"""`shinshu demo`: the whole platform on one machine, with a week of history and a live day.

Private Mosquitto and InfluxDB, ingest, the alerts service and the API with its web UI, fed by
a simulated farm, forest stand and factory: their last week is backfilled into the store, then
the following day is replayed live through real edge agents on accelerated time, with a theft
in one factory bin for the alerts service to catch and heavy rain over the forest stand for
the landslide watch. Without `influxd` installed, the store is a
SQLite file in the demo folder instead, and the demo says so.

The farm also has the six calendar years before this one, every two hours: their crop seasons
are planting and harvest work records, as the farmer would have entered them, and the demo
trains the harvest model on them (`models.training`, with its held-out check) while the web UI
starts. Beside the field is an apple orchard; its last spring is written too, with a radiation
frost at pink bud, and the frost watch is replayed over the nights around it, so its warning is
in the inbox. Whatever the time of year, the field is planted again on the first day of the week of
history, so the farm page has a season to forecast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.settings import SQLITE_SCHEME, Settings, load_api_settings
from core.signals import install_stop_handlers
from core.time import JST, MS_PER_DAY, MS_PER_HOUR, from_day_number, local_day
from dashboard.app import create_app
from dashboard.keys import Role
from edge.mqtt import MqttEndpoint
from edge.protocol import SensorKind
from identity.accounts import DEFAULT_SERVICE_USERNAMES, ServiceRole
from ingest.service import run_ingest
from models.errors import ModelError
from models.stock.serving import run_alerts
from shinshu.localservices import (
    LocalInfluxDB,
    LocalMosquitto,
    free_port,
    influxd_installed,
    start_broker,
    start_pair,
)
from shinshu.webthread import ThreadServer, serve_in_thread
from simulators.accounts import issuer_of
from simulators.backfill import backfill
from simulators.events import EventKind, WeatherEvent
from simulators.factory import DEFAULT_FACTORIES
from simulators.faults import Fault, FaultKind
from simulators.forest import DEFAULT_STANDS
from simulators.live import MARGIN_S, LivePlan, run_live
from simulators.register import save_assets
from simulators.scenario import Scenario, Truth
from storage import describe_store, open_store
from storage.assets import read_assets
from storage.errors import StoreError
from storage.protocol import ReadingStore

log = logging.getLogger(__name__)

STEP_MS = 600_000
LIVE_MS = MS_PER_DAY
THEFT_AFTER_MS = 2 * MS_PER_HOUR
# Heavy rain over the larch stand early in the live day: enough for the Soil Water Index to rise
# through caution and warning (docs/landslide.md), so the landslide watch raises its alerts.
RAIN_AFTER_MS = 3 * MS_PER_HOUR
RAIN_MM = 260.0
# The orchard beside the lettuce field, and its last spring: March to mid-May, with a radiation
# frost on the night of May 1 while the buds are at pink, which the frost watch is replayed over.
LETTUCE, ORCHARD = "kawakami-01", "suzaka-01"
FROST_NIGHT = (5, 1)
FROST_MIN_C = -4.0
SPRING = ((3, 1), (5, 10))
# Enough lettuce seasons (two a year) to hold three out and fit on nine; coarse steps and only
# what the harvest model reads keep it quick.
EARLIER_YEARS = 6
EARLIER_STEP_MS = 2 * MS_PER_HOUR
WEATHER_KINDS = frozenset(
    {
        SensorKind.AIR_TEMPERATURE,
        SensorKind.SOLAR_RADIATION,
        SensorKind.RAINFALL,
        SensorKind.SOIL_MOISTURE,
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class DemoOptions:
    """How much history, how fast the live day runs, where the web UI listens, for how long."""

    history_days: int = 8
    accel: float = 60.0
    port: int = 8080
    duration_s: float = 0.0
    seed: int = 1


def _count(store: ReadingStore) -> int:
    try:
        return store.count_points()
    except StoreError:
        return 0


def _start_services(
    folder: Path, base: Settings
) -> tuple[LocalMosquitto, LocalInfluxDB | None, dict[str, Any]]:
    """The broker, InfluxDB if it is installed, and the store settings that go with them.

    A SQLite store named by the settings (`SHINSHU_STORE`) is used as it is.
    """
    if base.sqlite_path is not None or not influxd_installed():
        if base.sqlite_path is not None:
            print(
                f"SHINSHU_STORE の SQLite ファイル {base.sqlite_path} にデータを保存します。\n"
                f"SHINSHU_STORE names SQLite: the demo keeps its data in {base.sqlite_path}.",
                flush=True,
            )
            store = base.store
        else:
            print(
                "influxd が見つからないため、データは SQLite に保存します。\n"
                "influxd is not installed: the demo keeps its data in SQLite instead.",
                flush=True,
            )
            store = f"{SQLITE_SCHEME}{folder / 'store.sqlite3'}"
        print(f"starting mosquitto with its data in {folder} ...", flush=True)
        broker = start_broker(folder)
        return broker, None, {"store": store}
    print(f"starting mosquitto and influxd with their data in {folder} ...", flush=True)
    broker, influx = start_pair(folder)
    return broker, influx, {"store": "", "influx_url": influx.url, "influx_db": "shinshu_demo"}


def _scenario(options: DemoOptions, now_ms: int) -> tuple[Scenario, int]:
    """One farm, forest and factory: history, then a live day that ends before now."""
    # Simulated time runs a step and a margin past the window; all of it must be in the past.
    tail_ms = STEP_MS + round(MARGIN_S * options.accel * 1000)
    end_ms = (now_ms - tail_ms) // STEP_MS * STEP_MS
    begin_ms = end_ms - LIVE_MS
    start_ms = begin_ms - options.history_days * MS_PER_DAY
    rain = WeatherEvent(
        DEFAULT_STANDS[0].site, EventKind.HEAVY_RAIN, begin_ms + RAIN_AFTER_MS, RAIN_MM
    )
    scenario = Scenario(1, 1, 1, start_ms, end_ms - start_ms, STEP_MS, options.seed, events=(rain,))
    return scenario, begin_ms


def _earlier_years(scenario: Scenario, store: ReadingStore, tenant: str) -> None:
    """The farm's earlier years: weather readings and recorded seasons of the calendar years
    before the history's (whole years, so every day of a year trains on the same seasons)."""
    year = from_day_number(local_day(scenario.start_ms)).year
    first, end = (
        int(dt.datetime(y, 1, 1, tzinfo=JST).timestamp() * 1000)
        for y in (year - EARLIER_YEARS, year)
    )
    earlier = Scenario(
        1, 0, 0, first, end - first, EARLIER_STEP_MS, scenario.seed, farm_sites=(LETTUCE,)
    )
    report = backfill(
        earlier, store, tenant, Truth(), progress=lambda _l: None, kinds=WEATHER_KINDS
    )
    print(
        f"  {EARLIER_YEARS} earlier years of the farm: {report.readings:,} readings and "
        f"{report.records // 2} recorded seasons in {report.seconds:.1f} s",
        flush=True,
    )


def _plant(store: ReadingStore, tenant: str, start_ms: int) -> None:
    """Plant every field again on the history's first day: a current season to forecast."""
    day = from_day_number(local_day(start_ms)).isoformat()
    fields = [f for group in read_assets(store, tenant).fields.values() for f in group]
    planted = [
        dataclasses.replace(f, plantings=tuple(sorted({*f.plantings, day})))
        for f in fields
        if day not in f.plantings
    ]
    save_assets(store, tenant, planted, by="demo")


def _train(settings: Settings, store: ReadingStore) -> None:
    """Train and register the harvest model on the recorded seasons (kept if it passes)."""
    began = time.monotonic()
    # numpy and scikit-learn load here, after the web UI has started.
    from models.registry import ModelRegistry, ModelStatus
    from models.training import TrainingRequest, train_harvest

    registry = ModelRegistry.for_tenant(settings.data_path, settings.tenant)
    try:
        meta = train_harvest(
            store, registry, TrainingRequest(settings.tenant), progress=lambda _l: None
        )
    except (ModelError, StoreError) as exc:
        print(f"  the harvest model could not be trained: {exc}", flush=True)
        return
    verdict = meta.status.value + (f" ({meta.reason})" if meta.reason else "")
    shown = (
        "the farm page shows its forecast"
        if meta.status is ModelStatus.GOOD
        else "not served: the farm page has no forecast"
    )
    print(
        f"  harvest model v{meta.version} from {meta.data['seasons']} recorded seasons: "
        f"{verdict}, in {time.monotonic() - began:.1f} s; {shown}",
        flush=True,
    )


def _harvest_history(settings: Settings, store: ReadingStore, scenario: Scenario) -> None:
    """Earlier years of the farm, a current planting and a harvest model, and the orchard's last
    spring with its frost night, while the demo runs."""
    try:
        _earlier_years(scenario, store, settings.tenant)
        _plant(store, settings.tenant, scenario.start_ms)
    except StoreError as exc:
        print(f"  the farm's earlier years could not be written: {exc}", flush=True)
        return
    _train(settings, store)
    try:
        _orchard_spring(settings, store, scenario)
    except (ModelError, StoreError) as exc:
        print(f"  the orchard's spring could not be replayed: {exc}", flush=True)


def _spring_year(now_ms: int) -> int:
    """The year of the latest spring that is over."""
    today = from_day_number(local_day(now_ms))
    return today.year if today >= dt.date(today.year, *SPRING[1]) else today.year - 1


def _orchard_spring(settings: Settings, store: ReadingStore, scenario: Scenario) -> None:
    """The orchard's last spring, every 10 minutes, with a frost night at pink bud; then the
    frost watch replayed at each issue time of the nights around it, on the readings up to that
    time only, as it would have run then. Its warnings land in the inbox."""
    from models.frost.watch import replay_nights
    from storage.alerts import AlertStore

    year = _spring_year(scenario.start_ms + scenario.duration_ms)
    first, last = (int(dt.datetime(year, *md, tzinfo=JST).timestamp() * 1000) for md in SPRING)
    night = dt.datetime(year, *FROST_NIGHT, 18, tzinfo=JST)
    frost = WeatherEvent(ORCHARD, EventKind.FROST_NIGHT, int(night.timestamp() * 1000), FROST_MIN_C)
    spring = Scenario(
        1, 0, 0, first, last - first, STEP_MS, scenario.seed, events=(frost,), farm_sites=(ORCHARD,)
    )
    report = backfill(spring, store, settings.tenant, Truth(), progress=lambda _l: None)
    days = [night.date() + dt.timedelta(days=d) for d in (-1, 0, 1)]
    warned = replay_nights(store, AlertStore(store), days)
    nights = sorted(
        {dt.datetime.fromtimestamp(a.ts_ms / 1000, JST).strftime("%m-%d") for a in warned}
    )
    print(
        f"  the orchard's spring of {year} ({report.readings:,} readings) with a frost night on "
        f"{night:%m-%d}: the frost watch, replayed at each issue time, warned for "
        f"{', '.join(nights) or 'no night'}; see the inbox (アラート)",
        flush=True,
    )


def _theft(begin_ms: int) -> Fault:
    """A theft of 30 % of the factory's screws, two simulated hours into the live day."""
    factory = DEFAULT_FACTORIES[0]
    at = begin_ms + THEFT_AFTER_MS
    return Fault(factory.site, FaultKind.THEFT, at, at, bin=factory.bins[0].name, fraction=0.3)


def _thread(target: Callable[..., object], *args: object, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


def run_demo(base: Settings, options: DemoOptions) -> int:
    """Run until Ctrl-C (or `options.duration_s`), printing what flows where."""
    stop = threading.Event()
    install_stop_handlers(stop)
    folder = base.data_path / "demo"
    broker, influx, store_settings = _start_services(folder, base)
    accounts = broker.accounts()
    settings = dataclasses.replace(
        base,
        mqtt_url=broker.url,
        **store_settings,
        influx_token=None,
        influx_user=None,
        influx_password=None,
        # The broker's registry and the services' secrets are in the demo folder.
        data_dir=folder,
        mqtt_username=None,
        mqtt_password=None,
        mqtt_password_file=None,
        ingest_client_id=DEFAULT_SERVICE_USERNAMES[ServiceRole.INGEST],
        ingest_metrics_port=0,
        alerts_client_id=DEFAULT_SERVICE_USERNAMES[ServiceRole.ALERTS],
        alerts_metrics_port=0,
        # Simulated time runs `accel` times faster: one landslide pass per simulated step.
        alerts_landslide_s=max(STEP_MS / 1000 / options.accel, 0.5),
        api_client_id=DEFAULT_SERVICE_USERNAMES[ServiceRole.API],
    )
    services_stop = threading.Event()
    server: ThreadServer | None = None
    live: threading.Thread | None = None
    history: threading.Thread | None = None
    threads: list[threading.Thread] = []
    try:
        store = open_store(settings, timeout=60.0)
        store.ensure_database()
        scenario, begin_ms = _scenario(options, int(time.time() * 1000))
        print(f"writing {options.history_days} days of history ...", flush=True)
        report = backfill(
            scenario, store, settings.tenant, Truth(), progress=lambda _l: None, until_ms=begin_ms
        )
        print(f"  {report.readings:,} readings in {report.seconds:.1f} s", flush=True)
        # The farm's earlier years and its harvest model follow while the web UI starts.
        history = _thread(_harvest_history, settings, store, scenario, name="harvest")
        threads.append(_thread(run_ingest, settings, services_stop, name="ingest"))
        threads.append(_thread(run_alerts, settings, services_stop, name="alerts"))
        app = create_app(load_api_settings(settings))
        tokens = {
            role: app.state.context.keys.create(settings.tenant, role, name=f"demo {role}")[1]
            for role in (Role.OPERATOR, Role.VIEWER)
        }
        port = options.port or free_port()
        # Print the address only once it answers.
        server, api = serve_in_thread(
            app, port, timeout_s=30, access_log=False, log_level="warning"
        )
        threads.append(api)
        if not server.started:
            print(f"the web UI cannot listen on port {port}; try --port 0", file=sys.stderr)
            return 1
        theft = _theft(begin_ms)
        plan = LivePlan(
            scenario, options.accel, settings.tenant, folder / "agents", (theft,), begin_ms=begin_ms
        )
        # The simulated agents get their accounts from the registry, as real ones do.
        issue = issuer_of(accounts, actor="demo")
        live = _thread(
            lambda: run_live(
                plan, settings.mqtt_url, Truth(), issue_secrets=issue, stop=stop, progress=log.info
            ),
            name="live",
        )
        _explain(
            settings, port=port, tokens=tokens, options=options, theft=theft, begin_ms=begin_ms
        )
        began = time.monotonic()
        while not stop.wait(5.0):
            print(f"  {_count(store):>8} readings stored so far", flush=True)
            if options.duration_s and time.monotonic() - began >= options.duration_s:
                stop.set()
        print(f"stopping; {_count(store)} readings stored in total", flush=True)
    finally:
        stop.set()
        # The agents first (they flush to the broker), then the services behind them.
        if live is not None:
            live.join(60)
        if history is not None:
            history.join(60)
        services_stop.set()
        if server is not None:
            server.should_exit = True
        for thread in threads:
            thread.join(30)
        if influx is not None:
            influx.stop()
        broker.stop()
        accounts.registry.close()
    return 0


def port_of(url: str) -> int:
    """The port of a broker URL."""
    return MqttEndpoint.from_url(url).port


def _explain(
    settings: Settings,
    *,
    port: int,
    tokens: dict[Role, str],
    options: DemoOptions,
    theft: Fault,
    begin_ms: int,
) -> None:
    monitor = DEFAULT_SERVICE_USERNAMES[ServiceRole.MONITOR]
    where, example = describe_store(settings)
    theft_at = dt.datetime.fromtimestamp(theft.start_ms / 1000, JST).strftime("%m-%d %H:%M")
    theft_in_s = (theft.start_ms - begin_ms) / 1000 / options.accel
    rain_ms = begin_ms + RAIN_AFTER_MS
    rain_at = dt.datetime.fromtimestamp(rain_ms / 1000, JST).strftime("%m-%d %H:%M")
    rain_in_s = RAIN_AFTER_MS / 1000 / options.accel
    print(
        f"""
  simulated sites (tenant {settings.tenant}): a Kawakami lettuce field, a Suzaka apple orchard,
  a larch stand, a factory
      |  real edge agents, {options.accel:g}x faster than real time, MQTT QoS 1
      v
  broker    {settings.mqtt_url}
      |  ingest and the alerts service (each with its own persistent session)
      v
  {where}
      |
      v
  web UI    http://127.0.0.1:{port}/     API http://127.0.0.1:{port}/docs

  sign in with (shown once; demo keys only):
    operator  {tokens[Role.OPERATOR]}
    viewer    {tokens[Role.VIEWER]}

  A theft from bin {theft.bin} at {theft_at} JST (simulated) happens about {theft_in_s:.0f} s
  from now; watch the factory page raise the alert, then acknowledge it as the operator.
  Heavy rain ({RAIN_MM:g} mm) falls on the larch stand from {rain_at} JST, about
  {rain_in_s:.0f} s from now: its landslide level rises (土砂災害の危険度) and the alerts
  appear in the inbox (アラート) within a minute or two of each rise. The orchard's last
  spring, with a frost night at pink bud, is written too, and the frost watch replayed over it:
  its warning is in the inbox, to acknowledge.

  The broker refuses anonymous clients; every device and service has its own account
  (`shinshu devices list`). Watch the traffic with the read-only monitor account:
    mosquitto_sub -h 127.0.0.1 -p {port_of(settings.mqtt_url)} -u {monitor} -i {monitor} \\
      -P "$(cat {settings.secrets_path}/{monitor}.secret)" \\
      -t 'shinshu/v1/#' -t 'shinshu/deadletter/#' -v
  query the readings:
    {example}
  Ctrl-C stops everything.
""",
        flush=True,
    )

"""The `shinshu` command: one entry point, a subcommand per service."""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SettingsError
from core.logs import setup_logging

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger("shinshu")


def _ingest(settings: Settings, _args: argparse.Namespace) -> int:
    from core.signals import install_stop_handlers
    from ingest.service import run_ingest

    stop = threading.Event()
    install_stop_handlers(stop)
    run_ingest(settings, stop)
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from edge.protocol import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
    from storage import open_store
    from storage.rollup_rebuild import rebuild

    def ms(day: datetime.date | None, default: int) -> int:
        """Midnight UTC of `day` in ms, or `default` when no day was given."""
        if day is None:
            return default
        return int(datetime.datetime.combine(day, datetime.time(), datetime.UTC).timestamp() * 1000)

    start = ms(args.since, MIN_TIMESTAMP_MS)
    end = min(MAX_TIMESTAMP_MS, ms(args.until, int(time.time() * 1000) + 3_600_000))
    if start >= end:
        print("--since must be before --until / 開始日は終了日より前にしてください", flush=True)
        return 2
    report = rebuild(open_store(settings, timeout=120.0), start_ms=start, end_ms=end)
    print(
        f"rebuilt {report.rollups:,} hourly rollups of {report.series:,} series / "
        f"{report.series:,} 系列の集計 {report.rollups:,} 件を再計算しました",
        flush=True,
    )
    return 0


def _rollup(settings: Settings, args: argparse.Namespace) -> int:
    if args.rebuild:
        return _rebuild(settings, args)
    from core.signals import install_stop_handlers
    from storage import open_store
    from storage.errors import StoreError
    from storage.rollup_service import run_round

    stop = threading.Event()
    install_stop_handlers(stop)
    store = open_store(settings)
    print("rolling up marked hours / 集計を更新しています (Ctrl-C to stop)", flush=True)
    while not stop.is_set():
        try:
            run_round(store, lag_s=settings.rollup_lag_s)
        except StoreError:
            # The next round redoes this one in full: the watermark did not move.
            log.warning("rollup round failed; retrying next round", exc_info=True)
        stop.wait(settings.rollup_interval_s)
    return 0


def _backfill(settings: Settings, args: argparse.Namespace) -> int:
    from core.progress import Progress
    from core.time import MS_PER_DAY, MS_PER_MINUTE
    from simulators.backfill import backfill
    from simulators.scenario import Scenario, Truth
    from storage import open_store

    first_day = args.start or datetime.date(2025, 1, 1)
    start = datetime.datetime.combine(first_day, datetime.time(), datetime.UTC)
    scenario = Scenario(
        farms=args.farms,
        forests=args.forests,
        factories=args.factories,
        start_ms=int(start.timestamp() * 1000),
        duration_ms=int(args.days * MS_PER_DAY),
        step_ms=args.step_minutes * MS_PER_MINUTE,
        seed=args.seed,
    )
    store = open_store(settings, timeout=120.0)
    if settings.influx_create_db:
        store.ensure_database()
    truth = Truth()
    # One step per site: a bar on a terminal, the same lines as ever in a log.
    bar = Progress(
        total=args.farms + args.forests + args.factories, unit="sites", stream=sys.stdout
    )
    report = backfill(scenario, store, settings.tenant, truth, progress=bar.step)
    bar.finish("backfill done / 過去データ投入完了")
    files = truth.write(args.truth_dir)
    print(
        f"backfilled {report.readings:,} readings of {report.sites} sites into "
        f"{settings.influx_url}/{settings.influx_db} in {report.seconds:.1f} s; "
        f"ground truth: {', '.join(str(f) for f in files)}",
        flush=True,
    )
    return 0 if not report.refused else 1


def _live(settings: Settings, args: argparse.Namespace) -> int:
    from core.signals import install_stop_handlers
    from simulators.command import LiveOptions, run_live_command

    stop = threading.Event()
    install_stop_handlers(stop)
    options = LiveOptions(
        farms=args.farms,
        forests=args.forests,
        factories=args.factories,
        accel=args.accel or 60.0,
        duration=args.duration,
        step_minutes=args.step_minutes,
        seed=args.seed,
        start=args.start,
        faults_file=args.faults,
        fault_rate=args.fault_rate,
        truth_dir=args.truth_dir,
    )
    from simulators.accounts import issuer_from_settings

    return run_live_command(
        options,
        mqtt_url=settings.mqtt_url,
        tenant=settings.tenant,
        data_dir=settings.data_path,
        issue_secrets=issuer_from_settings(settings),
        ca_file=settings.mqtt_ca_file,
        stop=stop,
        out=lambda line: print(line, flush=True),
    )


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    if args.backfill:
        return _backfill(settings, args)
    if args.live or args.accel is not None:
        return _live(settings, args)
    from core.signals import install_stop_handlers
    from edge.mqtt import MqttEndpoint
    from simulators.accounts import issuer_from_settings
    from simulators.fleet import FleetPlan, run_fleet

    stop = threading.Event()
    install_stop_handlers(stop)
    plan = FleetPlan(
        tenant=settings.tenant,
        site=settings.site,
        devices=args.devices,
        readings=args.readings,
        batch_size=args.batch_size,
        interval_ms=args.interval_ms,
        rate=args.rate,
        seed=args.seed,
    )
    endpoint = MqttEndpoint.from_url(settings.mqtt_url)
    if endpoint.tls:
        endpoint = endpoint.with_tls_files(settings.mqtt_ca_file)
    # Each simulated device logs in with its own account, registered (or re-issued) now.
    issue = issuer_from_settings(settings)
    print(f"simulating {plan.devices} devices x {plan.readings} readings -> {endpoint}", flush=True)
    report = run_fleet(plan, endpoint, stop, issue_secrets=issue)
    print(
        f"published {report.readings} readings in {report.messages} messages, all acknowledged, "
        f"in {report.seconds:.1f} s",
        flush=True,
    )
    return 0 if not stop.is_set() else 130


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from shinshu.demo import DemoOptions, run_demo

    options = DemoOptions(
        history_days=args.history_days, accel=args.accel, port=args.port, duration_s=args.duration
    )
    return run_demo(settings, options)


def _score_csv(_settings: Settings, args: argparse.Namespace) -> int:
    from models.anomaly import score_csv

    rows = score_csv(args.input, args.output)
    print(f"scored {rows} rows -> {args.output}", flush=True)
    return 0


def _harvest(_settings: Settings, args: argparse.Namespace) -> int:
    from models.harvest.cli import main as harvest_main

    return harvest_main(args.harvest_args)


def _swi(_settings: Settings, args: argparse.Namespace) -> int:
    from models.landslide.cli import main as swi_main

    return swi_main(args.swi_args)


def _frost(_settings: Settings, args: argparse.Namespace) -> int:
    from models.frost.cli import main as frost_main

    return frost_main(args.frost_args)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


# `edge` gets None: the agent does not use the platform settings.
Handler = Callable[["Settings | None", argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="shinshu",
        description="Shinshu IoT platform: edge agents, ingest, simulators.",
        epilog="Settings come from SHINSHU_* variables, --config FILE.toml and flags, in that "
        "order of increasing priority.",
    )
    parser.add_argument("--config", type=Path, help="TOML file with settings")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="store device messages from MQTT in InfluxDB")
    ingest.add_argument("--client-id", dest="ingest_client_id", help="fixed MQTT client id")
    ingest.add_argument("--group", dest="ingest_group", help="shared subscription group")
    ingest.add_argument(
        "--metrics-port", dest="ingest_metrics_port", type=int, help="Prometheus port, 0 = off"
    )
    ingest.set_defaults(handler=_ingest)

    rollup = sub.add_parser(
        "rollup", help="keep hourly rollups of readings current (runs until SIGTERM)"
    )
    rollup.add_argument(
        "--rebuild",
        action="store_true",
        help="recompute every hour of every series in range from raw points once, then exit",
    )
    rollup.add_argument(
        "--since", type=datetime.date.fromisoformat, help="rebuild from this day (UTC), YYYY-MM-DD"
    )
    rollup.add_argument(
        "--until",
        type=datetime.date.fromisoformat,
        help="rebuild up to this day (UTC, exclusive), YYYY-MM-DD; default: now",
    )
    rollup.set_defaults(handler=_rollup)

    simulate = sub.add_parser("simulate", help="run a fleet of simulated devices")
    simulate.add_argument("--devices", type=_positive, default=5)
    simulate.add_argument("--readings", type=_positive, default=1000, help="per device")
    simulate.add_argument("--batch-size", type=_positive, default=100, help="readings/message")
    simulate.add_argument("--interval-ms", type=_positive, default=1000, help="between readings")
    simulate.add_argument("--rate", type=float, default=0.0, help="messages/s/device, 0 = max")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--tenant", dest="tenant")
    simulate.add_argument("--site", dest="site")
    history = simulate.add_argument_group(
        "backfill", "write simulated history of farms, forests and factories into the store"
    )
    history.add_argument("--backfill", action="store_true", help="backfill instead of live")
    history.add_argument("--farms", type=_count, default=10)
    history.add_argument("--forests", type=_count, default=5)
    history.add_argument("--factories", type=_count, default=3)
    history.add_argument("--days", type=float, default=365.0)
    history.add_argument("--step-minutes", type=_positive, default=10)
    history.add_argument(
        "--start",
        type=datetime.date.fromisoformat,
        help="first day (UTC), YYYY-MM-DD; backfill default 2025-01-01, live: ends now",
    )
    history.add_argument("--truth-dir", type=Path, default=Path("truth"))
    live = simulate.add_argument_group(
        "live", "the same sites as edge agents publishing to the broker on accelerated time"
    )
    live.add_argument("--live", action="store_true", help="live mode (implied by --accel)")
    live.add_argument("--accel", type=float, help="simulated seconds per real second (60)")
    live.add_argument("--duration", default="1d", help="simulated span: 90m, 6h, 2d, ...")
    live.add_argument("--faults", type=Path, help="fault schedule, TOML or JSON")
    live.add_argument("--fault-rate", type=float, default=0.0, help="random faults/device/day")
    simulate.set_defaults(handler=_simulate)

    models = sub.add_parser("models", help="anomaly scoring and forecasts")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="MODEL")
    score = models_sub.add_parser(
        "score-csv",
        help="add a causal anomaly_score column to a timestamp,value CSV",
        description="Reads IN (columns timestamp,value; others kept) and writes OUT with an "
        "anomaly_score in [0, 1] per row, computed from earlier rows only.",
    )
    score.add_argument("input", type=Path, metavar="IN.csv")
    score.add_argument("output", type=Path, metavar="OUT.csv")
    score.set_defaults(handler=_score_csv)
    # Its options are defined next to the model and parsed there, so that building this
    # parser never imports numpy (the Pi agent shares this command line).
    harvest = models_sub.add_parser(
        "harvest",
        help="harvest timing and yield: `fit` from CSV files, `predict` per field",
        description="`shinshu models harvest fit --help` and `... predict --help` list the "
        "options; docs/models.md describes the files.",
    )
    harvest.add_argument("harvest_args", nargs=argparse.REMAINDER, metavar="fit|predict ...")
    harvest.set_defaults(handler=_harvest)
    # No option of its own ("+" prefix, no -h), so that --rain, --help ... all reach the model's
    # parser unparsed.
    swi = models_sub.add_parser(
        "swi",
        prefix_chars="+",
        add_help=False,
        help="土壌雨量指数 (soil water index) and landslide level per step of a rain CSV",
        description="`shinshu models swi --help` lists the options; docs/landslide.md describes "
        "the model.",
    )
    swi.add_argument("swi_args", nargs=argparse.REMAINDER, metavar="--rain RAIN.csv --out SWI.csv")
    swi.set_defaults(handler=_swi)

    frost = models_sub.add_parser(
        "frost",
        help="orchard frost: tonight's minimum with an 80 %% interval, `fit` and `predict`",
        description="`shinshu models frost fit --help` and `... predict --help` list the "
        "options; docs/frost.md describes the files.",
    )
    frost.add_argument("frost_args", nargs=argparse.REMAINDER, metavar="fit|predict ...")
    frost.set_defaults(handler=_frost)

    from dashboard.cli import add_keys_command, add_serve_command
    from edge.cli import add_edge_command

    add_edge_command(sub)

    add_serve_command(sub)
    add_keys_command(sub)

    from models.train_cli import add_train_command

    add_train_command(sub)
    from models.stock.serving import add_alerts_command

    add_alerts_command(sub)
    from notify.cli import add_notify_command

    add_notify_command(sub)
    from identity.cli import add_broker_command, add_devices_command

    add_devices_command(sub)
    add_broker_command(sub)
    from shinshu.sites_cli import add_sites_commands

    add_sites_commands(sub)
    from shinshu.export_cli import add_export_command
    from shinshu.migrate_cli import add_migrate_command

    add_export_command(sub)
    add_migrate_command(sub)
    from shinshu.backup_cli import add_backup_commands
    from shinshu.store_cli import add_store_command

    add_store_command(sub)
    add_backup_commands(sub)

    demo = sub.add_parser(
        "demo",
        help="the whole platform locally: broker, database, ingest, alerts, web UI, live sites",
    )
    demo.add_argument("--duration", type=float, default=0.0, help="seconds; 0 runs until Ctrl-C")
    demo.add_argument("--history-days", type=_positive, default=8, help="days backfilled first")
    demo.add_argument("--accel", type=float, default=60.0, help="speed of the live day")
    demo.add_argument("--port", type=int, default=8080, help="web UI port (0: any free one)")
    demo.set_defaults(handler=_demo)
    return parser


# The flags that override platform settings, by subcommand; their dests are the settings' names.
# Only these are read as settings, so that another flag whose dest happens to be a setting's name
# (`keys create --site`) stays that subcommand's own.
SETTING_FLAGS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest_client_id", "ingest_group", "ingest_metrics_port"),
    "simulate": ("tenant", "site"),
    "train": ("tenant",),
    "sites": ("tenant",),
    "records": ("tenant",),
    "alerts": ("alerts_client_id", "alerts_metrics_port"),
}


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the parsed command line overrides (None: not given)."""
    overrides: dict[str, Any] = {k: getattr(args, k) for k in SETTING_FLAGS.get(args.command, ())}
    overrides["log_level"] = args.log_level
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, load settings once and run the subcommand."""
    args = build_parser().parse_args(argv)
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    settings: Settings | None = None
    if args.command == "edge":
        # The agent reads its own configuration (edge.config, standard library only), so a Pi
        # never loads the platform settings or pydantic; it sets up logging itself.
        if args.log_level:
            logging.basicConfig(level=args.log_level.upper(), format=log_format)
    else:
        from core.settings import load_settings

        try:
            settings = load_settings(args.config, overrides=setting_overrides(args))
        except SettingsError as exc:
            print(f"shinshu: {exc}", file=sys.stderr)
            return 2
        setup_logging(settings.log_level, settings.log_format, service=args.command)
        # One line per HTTP request to the store would drown everything else.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    handler: Handler = args.handler
    try:
        return handler(settings, args)
    except Exception as exc:  # the command line reports, it does not dump a trace
        log.debug("failed", exc_info=True)
        print(f"shinshu {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

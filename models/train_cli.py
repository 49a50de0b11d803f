"""`shinshu train`: the argparse subcommand; imports numpy and the models only when it runs."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from core.time import MS_PER_SECOND, parse_duration_ms

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

EXIT_REJECTED = 3
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class TrainableModel(StrEnum):
    """Models `shinshu train` can fit."""

    HARVEST = "harvest"


def parse_every(text: str) -> float:
    """A retraining period such as `24h`, `30m`, `1d` or `90s`, in seconds."""
    try:
        seconds = parse_duration_ms(text, bare_unit=None) / MS_PER_SECOND
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number and s, m, h or d (e.g. 24h)"
        ) from exc
    if seconds < 1.0:
        raise argparse.ArgumentTypeError("the period must be at least one second")
    return seconds


def _share(text: str) -> float:
    """A share strictly between 0 and 1."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _train_once(settings: Settings, args: argparse.Namespace) -> int:
    """One training run; the exit status says what happened."""
    from core.progress import Progress
    from models.registry import ModelRegistry, ModelStatus, RegistryError
    from models.training import TrainingError, TrainingRequest, train_harvest
    from storage import open_store
    from storage.errors import StoreError

    registry = ModelRegistry.for_tenant(settings.data_path, settings.tenant)
    store = open_store(settings, timeout=120.0)
    request = TrainingRequest(settings.tenant, args.seasons, args.start, args.end, args.holdout)
    bar = Progress(unit="steps", stream=sys.stdout)

    def show(line: str) -> None:
        # Indented lines are details of a step (a field's weather read): on a terminal they
        # replace each other on one line; the headlines and results stay on the screen.
        (bar.step if line.startswith("  ") else bar.note)(line.strip() if bar.terminal else line)

    try:
        meta = train_harvest(store, registry, request, progress=show)
    except TrainingError as exc:
        print(f"shinshu train: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except (StoreError, RegistryError) as exc:
        print(f"shinshu train: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return 0 if meta.status is ModelStatus.GOOD else EXIT_REJECTED


def _print(line: str) -> None:
    """Progress on standard output, flushed so that a log collector sees it at once."""
    print(line, flush=True)


def run_train(
    settings: Settings,
    args: argparse.Namespace,
    stop: threading.Event | None = None,
) -> int:
    """Train once, or every `--every` until SIGTERM/SIGINT (a run in progress finishes first)."""
    if args.every is None:
        return _train_once(settings, args)
    from core.signals import install_stop_handlers

    if stop is None:
        stop = threading.Event()
        install_stop_handlers(stop)
    while not stop.is_set():
        began = dt.datetime.now(dt.UTC)
        status = _train_once(settings, args)
        following = began + dt.timedelta(seconds=args.every)
        _print(f"run ended with status {status}; next run at {following.isoformat()} (UTC)")
        stop.wait(max(0.0, (following - dt.datetime.now(dt.UTC)).total_seconds()))
    _print("stopped")
    return 0


def add_train_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `train` on the `shinshu` subparsers; sets `handler(settings, args) -> int`."""
    train = sub.add_parser(
        "train",
        help="fit models from the store and register them (optionally on a schedule)",
        description="Fits the harvest model from daily weather derived from the stored "
        "readings and the seasons of the work records (a planting record of a field and the "
        "harvest records after it; yield in t/ha from the harvested kg and the field's area), "
        "scores it on the latest seasons held out, and "
        "registers the version under SHINSHU_DATA_DIR/models/TENANT/harvest/. Exit status: "
        "0 registered as good, 3 registered as rejected (the previous good version stays in "
        "service), 2 unusable input, 1 store or disk error.",
    )
    train.add_argument(
        "--model", type=TrainableModel, choices=list(TrainableModel), default="harvest"
    )
    train.add_argument(
        "--seasons",
        type=Path,
        metavar="S.csv",
        help="first import this seasons file into the work records (planting and harvest "
        "records on the site's registered field; importing it again changes nothing): "
        "field_id,crop,planting_date,maturity_date,yield with field_id the site id and "
        "yield in t/ha",
    )
    train.add_argument("--tenant", dest="tenant", help="whose data (default SHINSHU_TENANT)")
    train.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        help="train on the seasons planted on or after this day (Asia/Tokyo, YYYY-MM-DD); "
        "weather is read from 10 days before the first planting",
    )
    train.add_argument(
        "--end",
        type=dt.date.fromisoformat,
        help="last day of weather, and of the seasons' harvests; default yesterday",
    )
    train.add_argument(
        "--holdout", type=_share, default=0.25, help="share of the latest seasons held out"
    )
    train.add_argument(
        "--every",
        type=parse_every,
        metavar="PERIOD",
        help="retrain every PERIOD (e.g. 24h) until SIGTERM/SIGINT instead of once",
    )
    train.set_defaults(handler=run_train)

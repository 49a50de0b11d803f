"""`shinshu edge --config agent.toml`: run an edge agent until SIGTERM or SIGINT.

Imports only the standard library and paho-mqtt, so that `pip install 'shinshu-iot[edge]'` is
enough on a Raspberry Pi. `python -m edge.cli --config agent.toml` runs the same command.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.config import EdgeError, load_config
from edge.signals import install_stop_handlers

log = logging.getLogger("shinshu.edge")


def run_edge(config_path: Path | None, stop: threading.Event | None = None) -> int:
    """Load the agent's configuration and run it; returns the exit status."""
    from edge.agent import run_agent

    try:
        config = load_config(config_path)
    except EdgeError as exc:
        print(f"shinshu edge: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = stop or threading.Event()
    install_stop_handlers(stop)
    try:
        run_agent(config, stop)
    except EdgeError as exc:
        print(f"shinshu edge: {exc}", file=sys.stderr)
        return 1
    return 0


def _edge(_settings: Any, args: argparse.Namespace) -> int:
    """Handler for `shinshu edge` (the platform-wide settings are not used by the agent)."""
    return run_edge(args.edge_config)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `edge` command's own flags."""
    parser.add_argument(
        "--config",
        dest="edge_config",
        type=Path,
        help="the agent's TOML file (see deploy/agent.example.toml); SHINSHU_* variables override",
    )


def add_edge_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `shinshu edge` on the `shinshu` command's subparsers."""
    edge = sub.add_parser(
        "edge",
        help="run an edge agent: sensors, spool, publisher",
        description="Samples sensors into a power-safe spool and publishes it to the broker.",
    )
    _add_arguments(edge)
    edge.set_defaults(handler=_edge)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m edge.cli --config agent.toml`."""
    parser = argparse.ArgumentParser(prog="shinshu edge", description=__doc__)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return run_edge(args.edge_config)


if __name__ == "__main__":
    sys.exit(main())

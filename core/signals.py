"""Stop signals for long-running commands: the agent's one handler, logging what arrived."""

from __future__ import annotations

import logging
import threading

from edge.signals import install_stop_handlers as _install

__all__ = ["install_stop_handlers"]

_log = logging.getLogger("shinshu")


def install_stop_handlers(stop: threading.Event, log: logging.Logger | None = None) -> None:
    """SIGTERM and SIGINT set `stop`; each is logged (to `log`, by default the `shinshu` log)."""
    _install(stop, log or _log)

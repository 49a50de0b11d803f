"""Stop signals: SIGTERM and SIGINT ask a long-running command to finish cleanly.

Written once here, in the agent (standard library only); `core.signals` wraps it for the
server's commands, with a log line for each signal.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType


def install_stop_handlers(stop: threading.Event, log: logging.Logger | None = None) -> None:
    """SIGTERM and SIGINT set `stop`; with `log`, each signal is also logged at INFO."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        """Ask the command to stop."""
        if log is not None:
            log.info("received %s; stopping cleanly", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

"""The web app on uvicorn in a thread of the calling process (the demo, the browser tests)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ThreadServer(uvicorn.Server):
    """uvicorn without signal handlers: signals stay with the process that runs the thread."""

    def install_signal_handlers(self) -> None:
        """Leave SIGTERM and SIGINT to the caller, which stops the server in its own order."""


def serve_in_thread(
    app: Any, port: int, *, timeout_s: float, **config: Any
) -> tuple[ThreadServer, threading.Thread]:
    """Serve `app` on 127.0.0.1:`port` in a daemon thread; wait until it listens or gives up.

    The caller checks `server.started`: false if the server died (port taken) or timed out.
    Stop it with `server.should_exit = True` and join the thread.
    """
    server = ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread

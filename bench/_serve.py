"""The API benchmarks' server: `python -m dashboard.cli serve` as its own process, unthrottled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from shinshu.localservices import free_port


def server_env(influx_url: str, data_dir: str) -> dict[str, str]:
    """The caller's environment minus its SHINSHU_ settings, pointed at the bench database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    # The clients hammer one key: the rate limit is not what these benchmarks measure.
    env.update(
        SHINSHU_INFLUX_URL=influx_url,
        SHINSHU_INFLUX_DB="bench",
        SHINSHU_DATA_DIR=data_dir,
        SHINSHU_LOG_LEVEL="WARNING",
        SHINSHU_API_RATE_PER_S="100000",
        SHINSHU_API_RATE_BURST="100000",
    )
    return env


@contextmanager
def serve(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`python -m dashboard.cli serve` with `env`; (base URL, pid) once it is ready."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)], env=env
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(30)

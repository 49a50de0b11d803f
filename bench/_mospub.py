"""A compiled publisher for the benchmarks: Mosquitto's own `mosquitto_pub` (Debian's
`mosquitto-clients`), fed one message per line on its standard input.

A Python publisher at QoS 1 reaches about 10,000 messages/s on this machine with four processes,
which is below what ingest takes at one reading a message; `mosquitto_pub -l` from four
processes reaches about 70,000. The account's password goes to it in an options file (mode
0600, in a private folder), never on its command line. Payloads must not contain a newline
(the protocol's JSON never does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.mqtt import MqttEndpoint

MOSQUITTO_PUB = "mosquitto_pub"
# How many QoS 1 messages may await their PUBACK (the Python publishers' window is 2,000).
MAX_INFLIGHT = 1_000
# Time for a freshly started client to connect before the clock starts.
CONNECT_S = 0.5


def available() -> bool:
    """Whether `mosquitto_pub` is installed."""
    return shutil.which(MOSQUITTO_PUB) is not None


@contextmanager
def started(endpoint: MqttEndpoint, topic: str) -> Iterator[subprocess.Popen[bytes]]:
    """A connected `mosquitto_pub -l` publishing each line written to its stdin to `topic` at
    QoS 1, as the endpoint's account (its username is also its client id)."""
    if endpoint.tls:
        raise ValueError("the compiled publisher is used on plain MQTT only")
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder)
        options = config / MOSQUITTO_PUB
        lines = []
        if endpoint.username:
            lines += [f"-u {endpoint.username}", f"-i {endpoint.username}"]
        if endpoint.password:
            lines.append(f"-P {endpoint.password}")
        fd = os.open(options, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
        command = [
            MOSQUITTO_PUB,
            *("-h", endpoint.host, "-p", str(endpoint.port), "-t", topic),
            *("-q", "1", "-l", "-M", str(MAX_INFLIGHT), "-V", "5"),
        ]
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, env={**os.environ, "XDG_CONFIG_HOME": str(config)}
        )
        try:
            time.sleep(CONNECT_S)
            if proc.poll() is not None:
                raise RuntimeError(f"mosquitto_pub exited at once ({proc.returncode})")
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def feed(proc: subprocess.Popen[bytes], bodies: list[bytes], rate: float | None = None) -> None:
    """Write every body as a line (at `rate` messages/s, evenly spread, when given), then wait
    until `mosquitto_pub` has had every PUBACK and exited."""
    assert proc.stdin is not None
    lines = [body + b"\n" for body in bodies]
    began = time.perf_counter()
    sent = 0
    while sent < len(lines):
        due = len(lines)
        if rate is not None:
            due = min(due, int((time.perf_counter() - began) * rate) + 1)
        if due > sent:
            proc.stdin.write(b"".join(lines[sent:due]))
            proc.stdin.flush()
            sent = due
        else:
            time.sleep(0.001)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"mosquitto_pub failed ({proc.returncode})")

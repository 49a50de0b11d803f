"""A real HTTP webhook receiver for the tests: verifies signatures, keeps keys in arrival order."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notify.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Received:
    """What the receiver took: every request, and the bodies by first-seen key."""

    secret: bytes
    status: int = 200
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (key, signature valid)
    bodies: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, valid: bool, body: bytes) -> int:
        with self.lock:
            self.requests.append((key, valid))
            if not valid:
                return 401
            if self.status >= 300:
                return self.status
            if key not in self.bodies:
                self.bodies[key] = json.loads(body)
                self.order.append(key)
            return 200


class Receiver:
    """A webhook receiver on 127.0.0.1:`port`; `start`/`stop` as often as a test needs."""

    def __init__(self, port: int, secret: bytes) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.got = Received(secret)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                valid = verify(
                    got.secret, self.headers.get(SIGNATURE_HEADER, ""), body, now_s=time.time()
                )
                status = got.take(self.headers.get(IDEMPOTENCY_HEADER, ""), valid, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._server = None

"""`shinshu broker auth-http`: RabbitMQ's HTTP authentication backend as a small HTTP service.

Only the transport: the answers are `identity.rabbit_auth`'s. RabbitMQ sends each question as
a form (POST, or a query string with GET) to `/auth/<question>`; the body is `allow` or `deny`.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from identity.rabbit_auth import DENY, RabbitAuth

log = logging.getLogger(__name__)

PREFIX = "/auth/"
# A form of four short fields; anything longer is not RabbitMQ asking.
_MAX_BODY = 16 * 1024


def _handler(auth: RabbitAuth) -> type[BaseHTTPRequestHandler]:
    """A request handler class answering from `auth`."""

    class Handler(BaseHTTPRequestHandler):
        """Answers `/auth/user|vhost|resource|topic`."""

        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, query: str) -> None:
            path = urlsplit(self.path).path
            if not path.startswith(PREFIX):
                self._reply(404, "not found")
                return
            params = dict(parse_qsl(query, keep_blank_values=True))
            try:
                answer = auth.answer(path.removeprefix(PREFIX), params)
            except Exception:
                # A registry that cannot be read refuses; the broker retries the next login.
                log.exception("could not answer %s", path)
                answer = DENY
            self._reply(200, answer)

        def do_GET(self) -> None:
            """A question in the query string."""
            self._answer(urlsplit(self.path).query)

        def do_POST(self) -> None:
            """A question as a urlencoded form."""
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._reply(413, "too large")
                return
            self._answer(self.rfile.read(length).decode("utf-8", "replace"))

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: a GET query holds a password, and every login would be a line."""

    return Handler


class AuthServer:
    """The HTTP service on `host:port` (port 0: any free one), served from its own thread."""

    def __init__(self, auth: RabbitAuth, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind at once, so that `port` is known before `start`."""
        self._server = ThreadingHTTPServer((host, port), _handler(auth))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL; RabbitMQ's paths are this plus `/user` and so on."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX.rstrip('/')}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, stop: threading.Event) -> None:
        """Serve until `stop` is set."""
        self.start()
        stop.wait()
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

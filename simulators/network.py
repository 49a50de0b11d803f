"""A TCP relay between one simulated device and the broker, which can cut the network.

The agent connects to the relay as if it were the broker. `cut()` drops every open connection
and stops listening, so reconnecting fails at once with "connection refused", as when a
device's link is down; `restore()` listens again on the same port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

log = logging.getLogger(__name__)

_ACCEPT_POLL_S = 0.05


class Relay:
    """Relays TCP connections from 127.0.0.1:`port` to `target` while the link is up."""

    def __init__(self, target_host: str, target_port: int) -> None:
        """Pick a free local port now; nothing listens until `start()`."""
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._up = threading.Event()
        self._acceptor: threading.Thread | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]

    def start(self) -> Relay:
        """Listen and relay."""
        self.restore()
        return self

    @property
    def up(self) -> bool:
        """Whether the link is up."""
        return self._up.is_set()

    def restore(self) -> None:
        """Bring the link back: listen again on the same port."""
        if self._up.is_set():
            return
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(_ACCEPT_POLL_S)
        self._up.set()
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener,), name=f"relay-{self.port}", daemon=True
        )
        self._acceptor.start()

    def cut(self) -> None:
        """Take the link down: drop open connections and refuse new ones."""
        self._up.clear()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        """Accept connections while the link is up, then close the listening socket."""
        with listener:
            while self._up.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    log.warning("relay %d: accept failed: %s", self.port, exc)
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5.0)
                except OSError as exc:
                    log.info("relay %d: broker unreachable: %s", self.port, exc)
                    _close(conn)
                    continue
                upstream.settimeout(None)
                conn.settimeout(None)
                with self._lock:
                    self._sockets.update((conn, upstream))
                for src, dst in ((conn, upstream), (upstream, conn)):
                    threading.Thread(
                        target=self._pump, args=(src, dst), name="relay-pump", daemon=True
                    ).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy bytes one way until either side closes; then close both."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass  # the other pump or cut() closed the sockets
        finally:
            with self._lock:
                self._sockets.discard(src)
                self._sockets.discard(dst)
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    """Shut down (waking a blocked recv) and close a socket, ignoring errors."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

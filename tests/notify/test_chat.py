"""Chat services through apprise URLs: a real HTTP receiver behind apprise's `json://` service
gets each notification in the subscriber's language; URLs are never shown or logged whole."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from notify.chat import ChatChannel
from notify.deliverer import Deliverer, RetryPolicy
from notify.dispatcher import outgoing
from notify.outbox import Outbox, State
from notify.subscriptions import ChannelKind, Subscription, SubscriptionError, Subscriptions
from shinshu.localservices import free_port
from storage.alert_types import Alert, AlertKind

FAST = RetryPolicy(base_s=0.05, cap_s=0.2, give_up_after_s=1.0)
TOKEN = "tok3n-of-the-chat-service"


class ChatService:
    """An HTTP endpoint standing in for the chat service: keeps every JSON body it gets."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[dict[str, object]] = []
        self.paths: list[str] = []
        got = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                got.bodies.append(json.loads(body))
                got.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/{TOKEN}"


def _alert() -> Alert:
    now = int(time.time() * 1000)
    return Alert(
        "alpha",
        "orchard-1",
        "pi",
        "t",
        AlertKind.SENSOR_STUCK,
        now,
        1.0,
        "sensor t has read exactly 12.3 °C for 6.0 h",
        now,
        reason_ja="センサー t の値が 6.0 時間 12.3 °C のまま変化していません",
    )


def _deliver(outbox: Outbox, channel: ChatChannel, done: object, timeout_s: float = 20) -> None:
    deliverer = Deliverer(outbox, {"apprise": channel}, policy=FAST)
    deadline = time.monotonic() + timeout_s
    try:
        while not done() and time.monotonic() < deadline:  # type: ignore[operator]
            if not deliverer.run_once():
                time.sleep(0.05)
    finally:
        deliverer.close()


def test_a_chat_message_arrives_in_each_subscribers_language(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Japanese and an English subscriber: each message is wholly in its language; the
    listing hides the URL's token and no log line carries it."""
    service = ChatService()
    subs = Subscriptions(tmp_path / "n.sqlite3")
    made = [
        subs.add(
            Subscription("", "alpha", n, ChannelKind.APPRISE, service.url, lang=lang), now_ms=0
        )
        for n, lang in (("ja", "ja"), ("en", "en"))
    ]
    assert all(s.shown_target == "json://…" for s in subs.of_tenant("alpha"))
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    alert = _alert()
    outbox.enqueue([outgoing(alert, s, now_ms=alert.ts_ms) for s in made], now_ms=alert.ts_ms)
    targets = {s.id: s.target for s in made}
    caplog.set_level(logging.DEBUG)
    _deliver(outbox, ChatChannel(targets.get), lambda: len(service.bodies) == 2)
    ja, en = sorted(service.bodies, key=lambda b: str(b["title"]).isascii())
    assert "センサーの値が変化しない" in str(ja["title"])
    assert "12.3 °C のまま" in str(ja["message"]) and "read exactly" not in str(ja["message"])
    assert str(en["title"]) == "Sensor stuck" and "read exactly 12.3" in str(en["message"])
    assert all(p == f"/{TOKEN}" for p in service.paths)
    assert outbox.counts() == {("apprise", State.DELIVERED): 2}
    assert TOKEN not in caplog.text
    service.server.shutdown()


def test_a_service_that_keeps_failing_ends_as_a_dead_letter(tmp_path: Path) -> None:
    """Nothing listens at the URL: tried with backoff, then dead with a reason that does not
    show the token."""
    url = f"json://127.0.0.1:{free_port()}/{TOKEN}"
    sub = Subscription("sub_1", "alpha", "x", ChannelKind.APPRISE, url)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    alert = _alert()
    outbox.enqueue([outgoing(alert, sub, now_ms=alert.ts_ms)], now_ms=int(time.time() * 1000))
    dead = lambda: outbox.counts().get(("apprise", State.DEAD)) == 1  # noqa: E731
    _deliver(outbox, ChatChannel({"sub_1": url}.get), dead)
    (item,) = outbox.listing(states=[State.DEAD])
    assert item.attempts >= 2 and "did not take it" in item.last_error
    assert TOKEN not in item.last_error


def test_a_url_apprise_cannot_use_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """An unknown scheme is refused when subscribing; the message names only the scheme."""
    subs = Subscriptions(tmp_path / "n.sqlite3")
    with pytest.raises(SubscriptionError) as refused:
        subs.add(Subscription("", "alpha", "x", ChannelKind.APPRISE, f"nosuch://{TOKEN}"), now_ms=0)
    assert "nosuch://" in str(refused.value) and TOKEN not in str(refused.value)

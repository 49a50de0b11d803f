"""Web Push: VAPID-signed, RFC 8291-encrypted, received and decrypted by a local push service."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from push_service import PushService

from notify.deliverer import Deliverer, RetryPolicy
from notify.outbox import Outbox, Outgoing, State
from notify.push import PushChannel, application_server_key, load_vapid
from shinshu.localservices import free_port


def _deliver_all(outbox: Outbox, channel: PushChannel) -> None:
    deliverer = Deliverer(outbox, {"push": channel}, policy=RetryPolicy(0.01, 0.02, 2))
    try:
        while outbox.next_due_ms() is not None:
            deliverer.run_once()
    finally:
        deliverer.close()


def test_a_push_is_signed_encrypted_and_decrypted_by_the_push_service(tmp_path: Path) -> None:
    """The push service checks the VAPID JWT and decrypts the payload the notifier queued."""
    service = PushService(free_port())
    service.start()
    key_path = tmp_path / "secrets" / "vapid.pem"
    key = load_vapid(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert application_server_key(load_vapid(key_path)) == application_server_key(key)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    payload = {"title": "機器がオフライン", "body": "拠点 farm", "tag": "a1", "lang": "ja"}
    outbox.enqueue(
        [
            Outgoing(
                "ntf_" + "0" * 32, "push", "sub-1", "alpha", json.dumps(payload, ensure_ascii=False)
            )
        ],
        now_ms=0,
    )
    channel = PushChannel(key, "mailto:ops@shinshu.example", {"sub-1": service.subscription()}.get)
    try:
        _deliver_all(outbox, channel)
    finally:
        channel.close()
        service.stop()
    assert service.refused == []
    (message,) = service.messages
    assert message["title"] == "機器がオフライン"
    assert message["_vapid_sub"] == "mailto:ops@shinshu.example"
    assert outbox.counts() == {("push", State.DELIVERED): 1}


def test_a_dropped_browser_subscription_is_a_dead_letter(tmp_path: Path) -> None:
    """410 Gone from the push service: the browser dropped it; retrying will not help."""
    service = PushService(free_port(), status=410)
    service.start()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.enqueue([Outgoing("ntf_1", "push", "sub-1", "alpha", "{}")], now_ms=0)
    channel = PushChannel(
        load_vapid(tmp_path / "vapid.pem"),
        "mailto:ops@shinshu.example",
        {"sub-1": service.subscription()}.get,
    )
    try:
        _deliver_all(outbox, channel)
    finally:
        channel.close()
        service.stop()
    (dead,) = outbox.listing(states=[State.DEAD])
    assert dead.last_error == "push service answered 410"

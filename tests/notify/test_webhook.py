"""Webhooks to a real HTTP receiver: signed, in order, retried while it is down, dead-lettered."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from webhook_receiver import Receiver

from notify.deliverer import Deliverer, RetryPolicy
from notify.outbox import Outbox, Outgoing, State
from notify.webhook import WebhookChannel, WebhookTarget, signature, verify
from shinshu.localservices import free_port

SECRET = b"s3cret-for-tests-only"
FAST = RetryPolicy(base_s=0.05, cap_s=0.5, max_attempts=1000)


def _outgoing(n: int, destination: str = "hook-1") -> list[Outgoing]:
    return [
        Outgoing(f"key-{i:04d}", "webhook", destination, "alpha", json.dumps({"n": i}))
        for i in range(n)
    ]


def _deliver_until(deliverer: Deliverer, done: callable, timeout_s: float) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "not delivered in time"
        if not deliverer.run_once():
            time.sleep(0.02)


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    """The reference check refuses another body, another secret and an old timestamp."""
    body = b'{"n": 1}'
    header = signature(SECRET, 1_700_000_000, body)
    assert verify(SECRET, header, body, now_s=1_700_000_100)
    assert not verify(SECRET, header, b'{"n": 2}', now_s=1_700_000_100)
    assert not verify(b"other", header, body, now_s=1_700_000_100)
    assert not verify(SECRET, header, body, now_s=1_700_000_000 + 301)
    assert not verify(SECRET, "v1=abc", body, now_s=1_700_000_000)


def test_webhooks_arrive_signed_once_each_in_order(tmp_path: Path) -> None:
    """Fifty notifications reach the receiver in queue order with valid signatures."""
    receiver = Receiver(free_port(), SECRET)
    receiver.start()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    channel = WebhookChannel({"hook-1": WebhookTarget(receiver.url, SECRET)})
    deliverer = Deliverer(outbox, {"webhook": channel}, policy=FAST)
    try:
        assert outbox.enqueue(_outgoing(50), now_ms=0) == 50
        assert outbox.enqueue(_outgoing(50), now_ms=0) == 0  # the same keys add nothing
        _deliver_until(deliverer, lambda: len(receiver.got.order) == 50, 30)
        assert receiver.got.order == [f"key-{i:04d}" for i in range(50)]
        assert all(valid for _, valid in receiver.got.requests)
        assert [receiver.got.bodies[k]["n"] for k in receiver.got.order] == list(range(50))
        assert outbox.counts() == {("webhook", State.DELIVERED): 50}
    finally:
        deliverer.close()
        channel.close()
        receiver.stop()


def test_a_receiver_down_gets_everything_in_order_when_it_is_back(tmp_path: Path) -> None:
    """Connection refused for a while: nothing is lost, nothing reordered, each key once."""
    receiver = Receiver(free_port(), SECRET)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    channel = WebhookChannel({"hook-1": WebhookTarget(receiver.url, SECRET)})
    deliverer = Deliverer(outbox, {"webhook": channel}, policy=FAST)
    stop = threading.Event()
    loop = threading.Thread(target=deliverer.run, args=(stop,), daemon=True)
    try:
        outbox.enqueue(_outgoing(20), now_ms=int(time.time() * 1000))
        loop.start()
        time.sleep(2.0)
        assert outbox.counts() == {("webhook", State.PENDING): 20}
        head = outbox.listing(states=[State.PENDING])[-1]
        assert head.attempts > 1 and "Connect" in head.last_error
        receiver.start()
        deadline = time.monotonic() + 20
        while len(receiver.got.order) < 20:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert receiver.got.order == [f"key-{i:04d}" for i in range(20)]
    finally:
        stop.set()
        loop.join(5)
        deliverer.close()
        channel.close()
        receiver.stop()


def test_a_refusing_receiver_ends_in_a_dead_letter_and_unblocks_the_next(tmp_path: Path) -> None:
    """A 410 will not change by retrying: dead letter with the reason; others still go."""
    refusing = Receiver(free_port(), SECRET)
    refusing.got.status = 410
    refusing.start()
    fine = Receiver(free_port(), SECRET)
    fine.start()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    channel = WebhookChannel(
        {
            "gone": WebhookTarget(refusing.url, SECRET),
            "fine": WebhookTarget(fine.url, SECRET),
        }
    )
    deliverer = Deliverer(outbox, {"webhook": channel}, policy=FAST)
    try:
        outbox.enqueue(
            [
                *_outgoing(2, "gone"),
                *[Outgoing(f"f-{i}", "webhook", "fine", "alpha", "{}") for i in range(3)],
            ],
            now_ms=0,
        )
        _deliver_until(deliverer, lambda: outbox.next_due_ms() is None, 10)
        dead = outbox.listing(states=[State.DEAD])
        assert sorted(d.key for d in dead) == ["key-0000", "key-0001"]
        assert all(d.last_error == "HTTP 410 from the receiver" for d in dead)
        assert fine.got.order == ["f-0", "f-1", "f-2"]
    finally:
        deliverer.close()
        channel.close()
        refusing.stop()
        fine.stop()


def test_a_failing_channel_gives_up_after_its_attempts(tmp_path: Path) -> None:
    """A receiver that keeps answering 503 becomes a dead letter after max_attempts."""
    receiver = Receiver(free_port(), SECRET)
    receiver.got.status = 503
    receiver.start()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    channel = WebhookChannel({"hook-1": WebhookTarget(receiver.url, SECRET)})
    policy = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=3)
    deliverer = Deliverer(outbox, {"webhook": channel}, policy=policy)
    try:
        outbox.enqueue(_outgoing(1), now_ms=int(time.time() * 1000))
        _deliver_until(deliverer, lambda: outbox.next_due_ms() is None, 10)
        (dead,) = outbox.listing(states=[State.DEAD])
        assert dead.attempts == 3
        assert dead.last_error == "HTTP 503 from the receiver"
        assert len(receiver.got.requests) == 3
    finally:
        deliverer.close()
        channel.close()
        receiver.stop()

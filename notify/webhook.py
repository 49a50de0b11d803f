"""Webhook delivery: a JSON body POSTed with an HMAC-SHA256 signature over a timestamp and it.

Headers of every request:

- `X-Shinshu-Signature: t=<unix seconds>,v1=<hex>` where hex = HMAC-SHA256(secret,
  "<t>.<body>"), the body being the exact bytes sent. A receiver recomputes it, compares in
  constant time, and refuses a timestamp more than a few minutes old (replay); `verify` here
  is the reference.
- `Idempotency-Key: <key>`: the same notification always carries the same key, also when it is
  delivered again after a crash or a lost answer; a receiver keeps the keys it has seen.
- `X-Shinshu-Event: alert`.

A 2xx answer is a delivery. 408, 425, 429 and 5xx answers, timeouts and refused connections are
tried again later; any other answer (400, 401, 403, 404, 410, …) will not change by retrying,
so the notification becomes a dead letter with the answer as its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from notify.outbox import Queued
from notify.types import Outcome

SIGNATURE_HEADER = "X-Shinshu-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Shinshu-Event"
RETRIED_STATUSES = frozenset({408, 425, 429})
TOLERANCE_S = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, *, now_s: float) -> bool:
    """Whether `header` signs `body` with `secret` within the tolerance of `now_s`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp) > TOLERANCE_S:
        return False
    expected = signature(secret, timestamp, body).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a webhook goes and the secret it is signed with."""

    url: str
    secret: bytes


Targets = Callable[[str], "WebhookTarget | None"]


class WebhookChannel:
    """Sends queued webhook notifications; `targets` resolves a destination to URL and secret."""

    name = "webhook"

    def __init__(
        self,
        targets: Targets | dict[str, WebhookTarget],
        *,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`targets`: a destination's URL and secret (a mapping, or a lookup called per send)."""
        self._targets = targets.get if isinstance(targets, dict) else targets
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._now = clock

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def send(self, item: Queued) -> Outcome:
        """POST the notification; the outcome says whether to retry."""
        target = self._targets(item.destination)
        if target is None:
            return Outcome.refused(f"no webhook is configured as {item.destination!r}")
        body = item.payload.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(target.secret, int(self._now()), body),
            IDEMPOTENCY_HEADER: item.key,
            EVENT_HEADER: "alert",
        }
        try:
            response = self._client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome.transient(f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return Outcome.success()
        reason = f"HTTP {response.status_code} from the receiver"
        if response.status_code in RETRIED_STATUSES or response.status_code >= 500:
            return Outcome.transient(reason)
        return Outcome.refused(reason)

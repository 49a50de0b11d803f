"""Web Push (RFC 8030) to the dashboard: VAPID-signed (RFC 8292), encrypted with aes128gcm
(RFC 8291), through the push service the browser subscribed with.

The server has one VAPID key pair, kept in `<data_dir>/secrets/vapid.pem` (mode 0600), made at
first use. Browsers subscribe with its public key (`application_server_key`); a subscription
(endpoint and the browser's keys) is the target of a push subscription. A push service
answering 404 or 410 says that the browser has dropped the subscription: that is a dead letter.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02, b64urlencode
from pywebpush import WebPushException, webpush

from notify.outbox import Queued
from notify.subscriptions import check_subscription
from notify.types import Outcome

RETRIED_STATUSES = frozenset({408, 425, 429})
TTL_S = 24 * 3600


def load_vapid(path: Path) -> Vapid02:
    """The server's VAPID key at `path`, made (0600) when there is none yet."""
    if path.exists():
        return Vapid02.from_file(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Vapid02()
    key.generate_keys()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_pem())
    return key


def application_server_key(key: Vapid02) -> str:
    """The public key browsers subscribe with (uncompressed P-256 point, base64url)."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(raw)


class PushChannel:
    """Sends queued push notifications; `targets` resolves a destination to its subscription."""

    name = "push"

    def __init__(
        self,
        key: Vapid02,
        contact: str,
        targets: Callable[[str], str | None],
        *,
        timeout_s: float = 10.0,
    ) -> None:
        """`contact` is the VAPID `sub` claim (mailto: or https: of the installation)."""
        self._key = key
        self._contact = contact
        self._targets = targets
        self._session = requests.Session()
        self._timeout_s = timeout_s

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def send(self, item: Queued) -> Outcome:
        """Encrypt and POST the payload to the browser's push service."""
        target = self._targets(item.destination)
        if target is None:
            return Outcome.refused(f"no push subscription {item.destination!r}")
        try:
            webpush(
                check_subscription(target),
                data=item.payload,
                vapid_private_key=self._key,
                vapid_claims={"sub": self._contact},
                timeout=self._timeout_s,
                ttl=TTL_S,
                headers={"Topic": item.key[-32:]},
                requests_session=self._session,
            )
        except ValueError as exc:
            return Outcome.refused(f"not a push subscription: {exc}")
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            reason = f"push service answered {status}" if status else str(exc)
            if status is None or status >= 500 or status in RETRIED_STATUSES:
                return Outcome.transient(reason)
            return Outcome.refused(reason)
        except requests.RequestException as exc:
            return Outcome.transient(f"{type(exc).__name__}: {exc}")
        return Outcome.success()

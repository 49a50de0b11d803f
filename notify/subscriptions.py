"""Who receives which alerts, how and when: subscriptions, in the notifier's own SQLite file.

A subscription belongs to one tenant and names one channel and its target (a webhook URL with
its signing secret, an e-mail address, a Web Push subscription), the person's language, and
which alerts it wants: sites and alert kinds (none listed: all) and a lowest severity. During
its quiet hours (Japan time) only critical alerts are sent at once; the others wait until the
quiet hours end. An alert not acknowledged within `escalate_after_min` minutes is sent to the
subscription named by `escalate_to` as well (the next contact).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import InvalidRequestError, NotFoundError
from edge.schema import migrate
from notify.schema import SCHEMA

TOKYO = ZoneInfo("Asia/Tokyo")


class SubscriptionError(InvalidRequestError):
    """A subscription that cannot be stored as given."""


class SubscriptionNotFoundError(SubscriptionError, NotFoundError):
    """The tenant has no subscription with this id."""


class ChannelKind(StrEnum):
    """How a subscription is delivered."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    PUSH = "push"
    APPRISE = "apprise"


class Severity(IntEnum):
    """How urgent an alert is; a subscription receives its minimum and above."""

    INFO = 1
    WARNING = 2
    CRITICAL = 3


@dataclass(frozen=True, slots=True)
class QuietHours:
    """[start, end) in Japan time, "HH:MM"; may wrap past midnight (22:00–06:00)."""

    start: str
    end: str

    def _minutes(self, text: str) -> int:
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)

    def __post_init__(self) -> None:
        """Refuse a time that is not HH:MM."""
        try:
            for text in (self.start, self.end):
                hours, minutes = text.split(":")
                if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
                    raise ValueError(text)
        except ValueError as exc:
            raise SubscriptionError(f"quiet hours must be HH:MM: {exc}") from exc

    def ends_ms(self, at_ms: int) -> int | None:
        """When the quiet hours that `at_ms` falls in end; None if it is outside them."""
        local = dt.datetime.fromtimestamp(at_ms / 1000, TOKYO)
        now = local.hour * 60 + local.minute
        start, end = self._minutes(self.start), self._minutes(self.end)
        inside = start <= now < end if start <= end else now >= start or now < end
        if not inside or start == end:
            return None
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = day + dt.timedelta(minutes=end)
        if ends <= local:
            ends += dt.timedelta(days=1)
        return int(ends.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One person's (or system's) wish to receive some alerts through one channel."""

    id: str
    tenant: str
    name: str
    channel: ChannelKind
    target: str
    lang: str = "ja"
    sites: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    min_severity: Severity = Severity.WARNING
    quiet: QuietHours | None = None
    escalate_after_min: int | None = None
    escalate_to: str | None = None
    created_ms: int = 0
    secret: str = field(default="", repr=False)
    # The API key that made it (a browser's push subscription belongs to its signed-in key).
    owner: str = ""

    @property
    def shown_target(self) -> str:
        """The target as listings show it: a chat URL's token hidden."""
        if self.channel is ChannelKind.APPRISE:
            from notify.chat import masked_url

            return masked_url(self.target)
        return self.target

    def wants(self, site: str, kind: str, severity: Severity) -> bool:
        """Whether an alert of `kind` at `site` with `severity` is for this subscription."""
        return (
            severity >= self.min_severity
            and (not self.sites or site in self.sites)
            and (not self.kinds or kind in self.kinds)
        )

    def hold_until_ms(self, at_ms: int, severity: Severity) -> int:
        """When a notification made at `at_ms` may be sent: after quiet hours unless critical."""
        if self.quiet is None or severity >= Severity.CRITICAL:
            return at_ms
        return self.quiet.ends_ms(at_ms) or at_ms


def _spec(sub: Subscription) -> str:
    return json.dumps(
        {
            "name": sub.name,
            "channel": sub.channel.value,
            "target": sub.target,
            "lang": sub.lang,
            "sites": list(sub.sites),
            "kinds": list(sub.kinds),
            "min_severity": sub.min_severity.name.lower(),
            "quiet": None if sub.quiet is None else [sub.quiet.start, sub.quiet.end],
            "escalate_after_min": sub.escalate_after_min,
            "escalate_to": sub.escalate_to,
            "owner": sub.owner,
        },
        ensure_ascii=False,
    )


def _decode(row: tuple[str, str, str, str, int]) -> Subscription:
    sub_id, tenant, spec_text, secret, created_ms = row
    spec = json.loads(spec_text)
    quiet = spec.get("quiet")
    return Subscription(
        id=sub_id,
        tenant=tenant,
        name=spec["name"],
        channel=ChannelKind(spec["channel"]),
        target=spec["target"],
        lang=spec.get("lang", "ja"),
        sites=tuple(spec.get("sites", ())),
        kinds=tuple(spec.get("kinds", ())),
        min_severity=Severity[spec.get("min_severity", "warning").upper()],
        quiet=None if not quiet else QuietHours(*quiet),
        owner=spec.get("owner", ""),
        escalate_after_min=spec.get("escalate_after_min"),
        escalate_to=spec.get("escalate_to"),
        created_ms=int(created_ms),
        secret=secret,
    )


def check_subscription(text: str) -> dict[str, object]:
    """A browser's push subscription (endpoint and keys) from JSON; ValueError if it is not."""
    value = json.loads(text)
    keys = value.get("keys") if isinstance(value, dict) else None
    endpoint = value.get("endpoint") if isinstance(value, dict) else None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise ValueError("a push subscription needs an http(s) endpoint")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(k), str) for k in ("p256dh", "auth")
    ):
        raise ValueError("a push subscription needs keys p256dh and auth")
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


class Subscriptions:
    """The subscriptions of every tenant in one SQLite file (mode 0600: it holds secrets)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        migrate(self._db, SCHEMA, path)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def add(self, sub: Subscription, *, now_ms: int) -> Subscription:
        """Store a new subscription under a fresh id; a webhook gets a fresh signing secret."""
        if sub.channel is ChannelKind.EMAIL and "@" not in sub.target:
            raise SubscriptionError(f"not an e-mail address: {sub.target!r}")
        if sub.channel is ChannelKind.WEBHOOK and not sub.target.startswith(
            ("https://", "http://")
        ):
            raise SubscriptionError(f"a webhook needs an http(s) URL, not {sub.target!r}")
        if sub.channel is ChannelKind.PUSH:
            try:
                check_subscription(sub.target)
            except ValueError as exc:
                raise SubscriptionError(str(exc)) from exc
        if sub.channel is ChannelKind.APPRISE:
            from notify.chat import check_url

            try:
                check_url(sub.target)
            except ValueError as exc:
                raise SubscriptionError(str(exc)) from exc
        if sub.lang not in ("ja", "en"):
            raise SubscriptionError(f"language must be ja or en, not {sub.lang!r}")
        secret = sub.secret or (
            secrets.token_urlsafe(32) if sub.channel is ChannelKind.WEBHOOK else ""
        )
        stored = replace(sub, id=f"sub_{secrets.token_hex(8)}", created_ms=now_ms, secret=secret)
        with self._lock:
            self._db.execute(
                "INSERT INTO subscriptions (id, tenant, spec, secret, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (stored.id, stored.tenant, _spec(stored), stored.secret, now_ms),
            )
        return stored

    def remove(self, tenant: str, sub_id: str) -> None:
        """Delete a subscription of `tenant`; SubscriptionNotFoundError if it has none such."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            )
        if cursor.rowcount == 0:
            raise SubscriptionNotFoundError(f"no subscription {sub_id!r}")

    def of_tenant(self, tenant: str) -> list[Subscription]:
        """Every subscription of `tenant`, oldest first."""
        return self._select("WHERE tenant = ?", (tenant,))

    def all(self) -> list[Subscription]:
        """Every subscription of every tenant, oldest first."""
        return self._select("", ())

    def get(self, tenant: str, sub_id: str) -> Subscription:
        """One subscription of `tenant`."""
        found = self._select("WHERE tenant = ? AND id = ?", (tenant, sub_id))
        if not found:
            raise SubscriptionNotFoundError(f"no subscription {sub_id!r}")
        return found[0]

    def _select(self, where: str, args: Sequence[object]) -> list[Subscription]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, tenant, spec, secret, created_ms FROM subscriptions "
                f"{where} ORDER BY created_ms, id",
                tuple(args),
            ).fetchall()
        return [_decode(r) for r in rows]

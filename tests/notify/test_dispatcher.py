"""Which alerts become which notifications: filters, no replayed history, quiet hours,
escalation.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from notify.dispatcher import Dispatcher, notification_key
from notify.outbox import Outbox, State
from notify.subscriptions import (
    TOKYO,
    ChannelKind,
    QuietHours,
    Severity,
    Subscription,
    Subscriptions,
)
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.sqlite.store import SqliteStore

# 2026-06-01 12:00 Japan time.
NOON_MS = int(dt.datetime(2026, 6, 1, 12, tzinfo=TOKYO).timestamp() * 1000)


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _alert(kind: AlertKind, ts_ms: int, site: str = "works", tenant: str = "alpha") -> Alert:
    return Alert(tenant, site, "gw", "w1", kind, ts_ms, 4.0, "score 4.0", ts_ms)


def _setup(tmp_path: Path, clock: Clock) -> tuple[AlertStore, Subscriptions, Outbox, Dispatcher]:
    alerts = AlertStore(SqliteStore(tmp_path / "store.sqlite3"), clock=clock)
    subs = Subscriptions(tmp_path / "n.sqlite3")
    outbox = Outbox(tmp_path / "n.sqlite3")
    return alerts, subs, outbox, Dispatcher(alerts, subs, outbox, clock=clock)


def _sub(**extra: object) -> Subscription:
    base = {
        "id": "",
        "tenant": "alpha",
        "name": "n",
        "channel": ChannelKind.WEBHOOK,
        "target": "https://hooks.example/x",
    }
    return Subscription(**{**base, **extra})  # type: ignore[arg-type]


def test_filters_languages_and_no_history(tmp_path: Path) -> None:
    """Site, kind and severity filters hold; an alert older than the subscription is not sent;
    a second pass adds nothing; another tenant's alert goes to nobody here."""
    clock = Clock(NOON_MS)
    alerts, subs, outbox, dispatcher = _setup(tmp_path, clock)
    everything = subs.add(_sub(min_severity=Severity.INFO), now_ms=NOON_MS)
    works_only = subs.add(
        _sub(channel=ChannelKind.EMAIL, target="kacho@example.jp", sites=("works",), lang="en"),
        now_ms=NOON_MS,
    )
    critical = subs.add(_sub(min_severity=Severity.CRITICAL), now_ms=NOON_MS)
    old = _alert(AlertKind.DROP, NOON_MS - 3_600_000)
    theft = _alert(AlertKind.DROP, NOON_MS + 1000)
    drift = _alert(AlertKind.DRIFT, NOON_MS + 2000, site="annex")
    alerts.write([old, theft, drift, _alert(AlertKind.DROP, NOON_MS + 3000, tenant="beta")])
    clock.ms += 5000
    assert dispatcher.run_once() == 4
    assert dispatcher.run_once() == 0
    assert dispatcher.run_once(sweep=True) == 0
    queued = {(q.destination, q.key) for q in outbox.listing()}
    assert queued == {
        (everything.id, notification_key(theft.id, everything.id)),
        (everything.id, notification_key(drift.id, everything.id)),
        (works_only.id, notification_key(theft.id, works_only.id)),
        (critical.id, notification_key(theft.id, critical.id)),
    }
    mail = next(q for q in outbox.listing() if q.channel == "email")
    body = json.loads(mail.payload)
    assert body["lang"] == "en" and body["to"] == "kacho@example.jp"
    assert "Sudden drop in stock" in body["subject"]
    hook = json.loads(next(q for q in outbox.listing() if q.destination == critical.id).payload)
    assert hook["title"]["ja"] == "在庫の急減（盗難・誤出庫の疑い）"
    assert hook["alert"]["severity"] == "critical"
    assert "score" not in hook["explanation"]["ja"]


def test_the_japanese_explanation_carries_the_alerts_japanese_reason(tmp_path: Path) -> None:
    """An alert with a Japanese reason: in the Japanese text; its English reason in English."""
    clock = Clock(NOON_MS)
    alerts, subs, outbox, dispatcher = _setup(tmp_path, clock)
    subs.add(_sub(channel=ChannelKind.EMAIL, target="a@example.jp", lang="ja"), now_ms=NOON_MS)
    alert = Alert(
        "alpha",
        "works",
        "gw",
        "w1",
        AlertKind.DROP,
        NOON_MS + 1,
        0.8,
        "weight fell by 3.0 kg",
        NOON_MS + 1,
        reason_ja="重量が 3.0 kg 減少",
    )
    alerts.write([alert])
    clock.ms += 1000
    dispatcher.run_once()
    (mail,) = outbox.listing()
    text = json.loads(mail.payload)["text"]
    assert "重量が 3.0 kg 減少" in text
    assert "weight fell" not in text


def test_quiet_hours_hold_all_but_critical(tmp_path: Path) -> None:
    """At 23:00 with quiet hours 22:00–06:00: a reorder waits until 06:00, a theft goes now."""
    night = int(dt.datetime(2026, 6, 1, 23, tzinfo=TOKYO).timestamp() * 1000)
    clock = Clock(night)
    alerts, subs, outbox, dispatcher = _setup(tmp_path, clock)
    sub = subs.add(_sub(quiet=QuietHours("22:00", "06:00")), now_ms=night - 10_000)
    alerts.write([_alert(AlertKind.REORDER, night - 5000), _alert(AlertKind.DROP, night - 4000)])
    assert dispatcher.run_once() == 2
    morning = int(dt.datetime(2026, 6, 2, 6, tzinfo=TOKYO).timestamp() * 1000)
    due_now = outbox.due(night)
    assert [q.destination for q in due_now] == [sub.id]
    assert json.loads(due_now[0].payload)["alert"]["kind"] == "drop"
    held = next(q for q in outbox.listing() if q.destination == f"{sub.id}:held")
    assert held.next_ms == morning
    assert {q.destination for q in outbox.due(morning)} == {sub.id, f"{sub.id}:held"}


def test_an_open_alert_escalates_once_and_an_acknowledged_one_does_not(tmp_path: Path) -> None:
    """After 30 minutes unacknowledged, the next contact is told, once; acknowledged: nobody."""
    clock = Clock(NOON_MS)
    alerts, subs, outbox, dispatcher = _setup(tmp_path, clock)
    boss = subs.add(_sub(channel=ChannelKind.EMAIL, target="boss@example.jp"), now_ms=NOON_MS)
    first = subs.add(_sub(escalate_after_min=30, escalate_to=boss.id), now_ms=NOON_MS)
    open_one = _alert(AlertKind.DROP, NOON_MS + 1000)
    seen_one = _alert(AlertKind.DROP, NOON_MS + 2000, site="annex")
    alerts.write([open_one, seen_one])
    clock.ms += 60_000
    dispatcher.run_once()
    alerts.acknowledge("alpha", seen_one.id, "key-op")
    clock.ms += 31 * 60_000
    assert dispatcher.run_once(sweep=True) == 1
    escalated = [
        q for q in outbox.listing() if "再通知" in json.loads(q.payload).get("subject", "")
    ]
    assert [q.key for q in escalated] == [notification_key(open_one.id, boss.id, escalated=True)]
    assert dispatcher.run_once(sweep=True) == 0
    assert all(q.state is State.PENDING for q in outbox.listing())
    assert first.id in {q.destination for q in outbox.listing()}

"""From stored alerts to queued notifications: who gets what, once, and who is told next.

Each pass reads the alerts each subscribed tenant raised since its cursor (less a look-back, for
alerts stamped a little before they were stored), makes one notification per alert and
matching subscription, and queues them with the cursor's new position in one transaction. A
notification's idempotency key is made of the alert and the subscription, so reading an alert
twice (after a crash, or through the look-back) queues nothing twice.

An alert is stamped with the time of the reading that raised it, which can be long before it is
stored (a device that was offline uploads its spool). A sweep (`run_once(sweep=True)`, once a
minute in the service) reads the last `sweep_ms` again, so such alerts are sent too, later.

An alert raised before a subscription existed is not sent to it: subscribing does not replay
history. An alert still open `escalate_after_min` minutes after it was raised is sent to the
subscription's `escalate_to` as well, once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from notify.outbox import Outbox, Outgoing
from notify.render import chat_body, email_body, push_body, severity_of, webhook_body
from notify.subscriptions import ChannelKind, Subscription, Subscriptions
from storage.alert_types import Alert, AlertKind, AlertView
from storage.alerts import AlertStore

log = logging.getLogger(__name__)

LOOKBACK_MS = 120_000
SWEEP_MS = 24 * 3_600_000
# Alerts are read in windows of this span, so that a busy day is never one huge answer.
WINDOW_MS = 3_600_000
# A subscription also gets alerts raised this long before it was made (one being looked at now).
GRACE_MS = 60_000


def notification_key(alert_id: str, subscription: str, *, escalated: bool = False) -> str:
    """The idempotency key of one alert sent to one subscription."""
    text = f"{alert_id}\x1f{subscription}\x1f{'escalated' if escalated else 'raised'}"
    return "ntf_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def outgoing(alert: Alert, sub: Subscription, *, now_ms: int, escalated: bool = False) -> Outgoing:
    """The notification of `alert` for `sub`, in its channel's form and its language."""
    key = notification_key(alert.id, sub.id, escalated=escalated)
    if sub.channel is ChannelKind.WEBHOOK:
        payload = webhook_body(key, alert, escalated=escalated)
    elif sub.channel is ChannelKind.EMAIL:
        payload = email_body(sub.target, alert, sub.lang, escalated=escalated)
    elif sub.channel is ChannelKind.APPRISE:
        payload = chat_body(alert, sub.lang, escalated=escalated)
    else:
        payload = push_body(alert, sub.lang, escalated=escalated)
    severity = severity_of(alert.kind.value)
    not_before = sub.hold_until_ms(now_ms, severity)
    # Held notifications queue apart, so that quiet hours never hold up a critical one.
    destination = sub.id if not_before <= now_ms else f"{sub.id}:held"
    return Outgoing(key, sub.channel.value, destination, sub.tenant, payload, not_before)


def trial_notification(sub: Subscription, *, now_ms: int, by: str) -> Outgoing:
    """A test notification for `sub`, asked for by `by`: queued at once, past quiet hours."""
    alert = Alert(
        sub.tenant,
        sub.sites[0] if sub.sites else "-",
        "-",
        "-",
        AlertKind.TEST,
        now_ms,
        0.0,
        f"test notification asked for by {by}",
        now_ms,
        reason_ja=f"{by} が送信したテスト通知です",
    )
    return replace(outgoing(alert, sub, now_ms=now_ms), destination=sub.id, not_before_ms=0)


class Dispatcher:
    """Queues the notifications of new and unacknowledged alerts."""

    def __init__(
        self,
        alerts: AlertStore,
        subscriptions: Subscriptions,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
        lookback_ms: int = LOOKBACK_MS,
        sweep_ms: int = SWEEP_MS,
    ) -> None:
        """Read `alerts`, match `subscriptions`, queue into `outbox`."""
        self._alerts = alerts
        self._subscriptions = subscriptions
        self._outbox = outbox
        self._clock = clock
        self._lookback_ms = lookback_ms
        self._sweep_ms = sweep_ms

    def run_once(self, *, sweep: bool = False) -> int:
        """One pass over every subscribed tenant; returns how many notifications were new.

        With `sweep`, the pass reads the last `sweep_ms` (late alerts, escalations) instead of
        only what is new since the cursor.

        A tenant whose alerts cannot be read is logged and left for the next pass; the others
        go on.
        """
        by_tenant: dict[str, list[Subscription]] = defaultdict(list)
        for sub in self._subscriptions.all():
            by_tenant[sub.tenant].append(sub)
        added = 0
        for tenant, subs in by_tenant.items():
            try:
                added += self._tenant(tenant, subs, sweep=sweep)
            except Exception:
                log.exception("notifications of tenant %s failed; retried on the next pass", tenant)
        return added

    def _tenant(self, tenant: str, subs: list[Subscription], *, sweep: bool) -> int:
        now_ms = int(self._clock() * 1000)
        name = f"alerts:{tenant}"
        cursor = self._outbox.cursor(name)
        oldest_sub = min(s.created_ms for s in subs) - GRACE_MS
        fresh = cursor is not None and not sweep
        since = int(cursor) - self._lookback_ms if fresh else now_ms - self._sweep_ms  # type: ignore[arg-type]
        since = max(since, oldest_sub)
        by_id = {s.id: s for s in subs}
        added = 0
        newest = int(cursor or 0)
        # Oldest window first, each queued with the cursor it reached: a crash between windows
        # leaves a cursor that is never ahead of what was queued.
        for start in range(since, now_ms + 1, WINDOW_MS):
            end = min(start + WINDOW_MS, now_ms + 1)
            views = self._alerts.raised_between(tenant, start, end)
            items = [i for view in views for i in self._for_alert(view, subs, by_id, now_ms)]
            newest = max([newest, *(v.alert.ts_ms for v in views)])
            added += self._outbox.enqueue(items, now_ms=now_ms, cursor=(name, str(newest)))
        return added

    def _for_alert(
        self,
        view: AlertView,
        subs: list[Subscription],
        by_id: dict[str, Subscription],
        now_ms: int,
    ) -> list[Outgoing]:
        alert = view.alert
        severity = severity_of(alert.kind.value)
        out = []
        for sub in subs:
            if alert.ts_ms < sub.created_ms - GRACE_MS:
                continue
            if not sub.wants(alert.site, alert.kind.value, severity):
                continue
            out.append(outgoing(alert, sub, now_ms=now_ms))
            due = sub.escalate_after_min is not None and (
                now_ms - alert.ts_ms >= sub.escalate_after_min * 60_000
            )
            nxt = by_id.get(sub.escalate_to or "")
            if due and nxt is not None and not view.acknowledged:
                out.append(outgoing(alert, nxt, now_ms=now_ms, escalated=True))
        return out

"""Notifications: who receives which alerts (subscriptions), a browser's own Web Push, the
outbox's dead letters, and operators' threshold rules."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from core.errors import NotFoundError
from core.time import from_ms
from dashboard.deps import (
    API_PREFIX,
    AlertsAdmin,
    Context,
    CurrentKey,
    ReadKey,
    TenantPath,
    valid_id,
)
from dashboard.schemas import AUTHENTICATED, error_responses
from edge.protocol import SensorKind
from notify.dispatcher import trial_notification
from notify.outbox import State
from notify.subscriptions import ChannelKind, QuietHours, Severity, Subscription
from storage.rules import Comparison, ThresholdRule, read_rules, write_rule

router = APIRouter(
    prefix=API_PREFIX, tags=["notifications"], responses=error_responses(*AUTHENTICATED)
)

SubscriptionPath = Annotated[str, Path(description="the subscription's id, as listed")]
RulePath = Annotated[str, Path(description="the rule's id, as listed")]
SeverityName = Literal["info", "warning", "critical"]


class SubscriptionIn(BaseModel):
    """A subscription: a channel and its target, which alerts, in which language, and when."""

    name: str = Field(default="", max_length=200, description="who or what it is for")
    channel: Literal["webhook", "email", "apprise"]
    target: str = Field(
        min_length=3,
        max_length=2000,
        description="webhook URL, e-mail address, or an apprise URL for a chat service "
        "(slack://…, msteams://…, line://…; it holds the service's token and is never shown "
        "again)",
    )
    lang: Literal["ja", "en"] = "ja"
    sites: list[str] = Field(default_factory=list, max_length=200)
    kinds: list[str] = Field(default_factory=list, max_length=50)
    min_severity: SeverityName = "warning"
    quiet_start: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    quiet_end: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$")
    escalate_after_min: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    escalate_to: str | None = Field(default=None, max_length=100)


class PushIn(BaseModel):
    """A browser's push subscription (from `PushManager.subscribe()`), for its signed-in key."""

    subscription: dict[str, object] = Field(description="endpoint and keys (p256dh, auth)")
    lang: Literal["ja", "en"] = "ja"
    min_severity: SeverityName = "warning"
    sites: list[str] = Field(default_factory=list, max_length=200)


class SubscriptionOut(BaseModel):
    """A stored subscription (never its signing secret, except once when made)."""

    id: str
    name: str
    channel: str
    target: str = Field(description="URL, e-mail address, or the push service's endpoint")
    lang: str
    sites: list[str]
    kinds: list[str]
    min_severity: SeverityName
    quiet_start: str | None
    quiet_end: str | None
    escalate_after_min: int | None
    escalate_to: str | None
    created_at: dt.datetime


class SubscriptionCreated(SubscriptionOut):
    """A new subscription; a webhook's signing secret is shown here once."""

    secret: str | None = Field(description="HMAC-SHA256 key of X-Shinshu-Signature (webhooks)")


class OutboxItemOut(BaseModel):
    """One notification in the outbox."""

    key: str = Field(description="its idempotency key")
    channel: str
    subscription: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    last_error: str
    queued_at: dt.datetime
    done_at: dt.datetime | None


class PushKeyOut(BaseModel):
    """The server's VAPID public key, for `PushManager.subscribe({applicationServerKey})`."""

    application_server_key: str


class RuleIn(BaseModel):
    """A threshold rule: readings of `kind` beyond `threshold` for `duration_min` minutes."""

    name: str = Field(min_length=1, max_length=200)
    kind: SensorKind
    comparison: Comparison
    threshold: float = Field(allow_inf_nan=False, ge=-1e9, le=1e9)
    duration_min: float = Field(ge=1, le=30 * 24 * 60, allow_inf_nan=False)
    hysteresis: float = Field(default=0.0, ge=0, le=1e9, allow_inf_nan=False)
    site: str = Field(default="", max_length=100, description="only this site (empty: all)")
    device: str = Field(default="", max_length=100, description="only this device (empty: all)")
    severity: SeverityName = "warning"


class RuleOut(RuleIn):
    """A threshold rule in force."""

    id: str


class QueuedTest(BaseModel):
    """A test notification in the outbox: `shinshu notify run` delivers it within seconds."""

    key: str = Field(description="its idempotency key, as the receiver sees it")
    subscription: str
    queued_at: dt.datetime


def _sub_out(sub: Subscription) -> SubscriptionOut:
    target = sub.shown_target
    if sub.channel is ChannelKind.PUSH:
        target = str(json.loads(sub.target).get("endpoint", ""))
    return SubscriptionOut(
        id=sub.id,
        name=sub.name,
        channel=sub.channel.value,
        target=target,
        lang=sub.lang,
        sites=list(sub.sites),
        kinds=list(sub.kinds),
        min_severity=sub.min_severity.name.lower(),  # type: ignore[arg-type]
        quiet_start=None if sub.quiet is None else sub.quiet.start,
        quiet_end=None if sub.quiet is None else sub.quiet.end,
        escalate_after_min=sub.escalate_after_min,
        escalate_to=sub.escalate_to,
        created_at=from_ms(sub.created_ms),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


@router.get("/push/key", response_model=PushKeyOut, summary="The server's Web Push key")
def push_key(_key: CurrentKey, context: Context) -> PushKeyOut:
    """The VAPID public key browsers subscribe with; 404 when this server sends no pushes."""
    public = context.notifications.push_key
    if public is None:
        raise NotFoundError("this server sends no push notifications (no VAPID contact set)")
    return PushKeyOut(application_server_key=public)


@router.get(
    "/tenants/{tenant}/notifications/subscriptions",
    response_model=list[SubscriptionOut],
    summary="List subscriptions",
)
def list_subscriptions(
    tenant: TenantPath, key: AlertsAdmin, context: Context
) -> list[SubscriptionOut]:
    """Every subscription of the tenant (operators and admins)."""
    return [_sub_out(s) for s in context.notifications.subscriptions.of_tenant(key.tenant)]


@router.post(
    "/tenants/{tenant}/notifications/subscriptions",
    response_model=SubscriptionCreated,
    status_code=201,
    summary="Add a webhook or e-mail subscription",
)
def add_subscription(
    tenant: TenantPath, body: SubscriptionIn, key: AlertsAdmin, context: Context
) -> SubscriptionCreated:
    """A new subscription; a webhook's signing secret is in this answer only."""
    store = context.notifications.subscriptions
    if body.escalate_to is not None:
        store.get(key.tenant, body.escalate_to)
    quiet = None
    if body.quiet_start and body.quiet_end:
        quiet = QuietHours(body.quiet_start, body.quiet_end)
    sub = Subscription(
        id="",
        tenant=key.tenant,
        name=body.name,
        channel=ChannelKind(body.channel),
        target=body.target,
        lang=body.lang,
        sites=tuple(valid_id(s, "site") for s in body.sites),
        kinds=tuple(body.kinds),
        min_severity=Severity[body.min_severity.upper()],
        quiet=quiet,
        escalate_after_min=body.escalate_after_min,
        escalate_to=body.escalate_to,
    )
    stored = store.add(sub, now_ms=_now_ms())
    out = _sub_out(stored).model_dump()
    secret = stored.secret if stored.channel is ChannelKind.WEBHOOK else None
    return SubscriptionCreated(**out, secret=secret)


@router.post(
    "/tenants/{tenant}/notifications/push",
    response_model=SubscriptionOut,
    status_code=201,
    summary="Receive alerts as push notifications in this browser",
)
def add_push(tenant: TenantPath, body: PushIn, key: ReadKey, context: Context) -> SubscriptionOut:
    """Store this browser's push subscription for the signed-in key (any role that reads)."""
    if context.notifications.push_key is None:
        raise NotFoundError("this server sends no push notifications (no VAPID contact set)")
    sub = Subscription(
        id="",
        tenant=key.tenant,
        name=f"push for key {key.id}" + (f" ({key.name})" if key.name else ""),
        channel=ChannelKind.PUSH,
        target=json.dumps(body.subscription),
        lang=body.lang,
        sites=tuple(valid_id(s, "site") for s in body.sites),
        min_severity=Severity[body.min_severity.upper()],
        owner=key.id,
    )
    return _sub_out(context.notifications.subscriptions.add(sub, now_ms=_now_ms()))


@router.post(
    "/tenants/{tenant}/notifications/push/test",
    response_model=list[QueuedTest],
    status_code=202,
    summary="Send a test push to the browsers of the signed-in key",
)
def send_push_test(tenant: TenantPath, key: ReadKey, context: Context) -> list[QueuedTest]:
    """Queue a test notification for every browser the signed-in key receives pushes in
    (any role that reads); 404 when it has none."""
    subs = [
        s
        for s in context.notifications.subscriptions.of_tenant(key.tenant)
        if s.channel is ChannelKind.PUSH and s.owner == key.id
    ]
    if not subs:
        raise NotFoundError("this key receives no push notifications in any browser yet")
    return [_queue_test(context, sub, key.id) for sub in subs]


@router.delete(
    "/tenants/{tenant}/notifications/subscriptions/{subscription}",
    status_code=204,
    summary="Remove a subscription",
)
def remove_subscription(
    tenant: TenantPath, subscription: SubscriptionPath, key: AlertsAdmin, context: Context
) -> Response:
    """Delete one of the tenant's subscriptions; what is queued for it stays in the outbox."""
    context.notifications.subscriptions.remove(key.tenant, subscription)
    return Response(status_code=204)


@router.post(
    "/tenants/{tenant}/notifications/subscriptions/{subscription}/test",
    response_model=QueuedTest,
    status_code=202,
    summary="Send a test notification",
)
def send_test(
    tenant: TenantPath, subscription: SubscriptionPath, key: AlertsAdmin, context: Context
) -> QueuedTest:
    """Queue a test notification for one subscription (past its quiet hours); its delivery or
    dead letter shows in the outbox listing like any other."""
    sub = context.notifications.subscriptions.get(key.tenant, subscription)
    return _queue_test(context, sub, key.id)


def _queue_test(context: Context, sub: Subscription, key_id: str) -> QueuedTest:
    now_ms = _now_ms()
    item = trial_notification(sub, now_ms=now_ms, by=f"key {key_id}")
    context.notifications.outbox.enqueue([item], now_ms=now_ms)
    return QueuedTest(key=item.key, subscription=sub.id, queued_at=from_ms(now_ms))


@router.get(
    "/tenants/{tenant}/notifications/outbox",
    response_model=list[OutboxItemOut],
    summary="Notifications queued, delivered and dead",
)
def list_outbox(
    *,
    tenant: TenantPath,
    key: AlertsAdmin,
    context: Context,
    state: Annotated[
        Literal["pending", "delivered", "dead"] | None, Query(description="only this state")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OutboxItemOut]:
    """The tenant's notifications, newest first; `dead` lists the dead letters with reasons."""
    states = [State(state)] if state else []
    items = context.notifications.outbox.listing(tenant=key.tenant, states=states, limit=limit)
    return [
        OutboxItemOut(
            key=i.key,
            channel=i.channel,
            subscription=i.destination.removesuffix(":held"),
            state=i.state.value,  # type: ignore[arg-type]
            attempts=i.attempts,
            last_error=i.last_error,
            queued_at=from_ms(i.queued_ms),
            done_at=None if i.done_ms is None else from_ms(i.done_ms),
        )
        for i in items
    ]


def _rule_out(rule: ThresholdRule) -> RuleOut:
    return RuleOut(
        id=rule.rule,
        name=rule.name,
        kind=rule.kind,
        comparison=rule.comparison,
        threshold=rule.threshold,
        duration_min=rule.duration_min,
        hysteresis=rule.hysteresis,
        site=rule.site,
        device=rule.device,
        severity=rule.severity,  # type: ignore[arg-type]
    )


def _rule(rule_id: str, body: RuleIn) -> ThresholdRule:
    return ThresholdRule(
        rule=rule_id,
        name=body.name,
        kind=body.kind,
        comparison=body.comparison,
        threshold=body.threshold,
        duration_min=body.duration_min,
        hysteresis=body.hysteresis,
        site=valid_id(body.site, "site") if body.site else "",
        device=valid_id(body.device, "device") if body.device else "",
        severity=body.severity,
    )


def _find_rule(context: Context, tenant: str, rule_id: str) -> ThresholdRule:
    for rule in read_rules(context.notifications.store, tenant).get(tenant, []):
        if rule.rule == rule_id:
            return rule
    raise NotFoundError(f"no rule {rule_id!r}")


@router.get("/tenants/{tenant}/alert-rules", response_model=list[RuleOut], summary="List rules")
def list_rules(tenant: TenantPath, key: ReadKey, context: Context) -> list[RuleOut]:
    """The tenant's threshold rules in force."""
    return [
        _rule_out(r)
        for r in read_rules(context.notifications.store, key.tenant).get(key.tenant, [])
    ]


@router.post(
    "/tenants/{tenant}/alert-rules",
    response_model=RuleOut,
    status_code=201,
    summary="Add a threshold rule",
)
def add_rule(tenant: TenantPath, body: RuleIn, key: AlertsAdmin, context: Context) -> RuleOut:
    """A new rule (operators and admins); the alerts service applies it within a minute."""
    rule = _rule(f"rule_{secrets.token_hex(6)}", body)
    write_rule(context.notifications.store, key.tenant, rule, by=f"key:{key.id}", change="create")
    return _rule_out(rule)


@router.put("/tenants/{tenant}/alert-rules/{rule}", response_model=RuleOut, summary="Change a rule")
def change_rule(
    tenant: TenantPath, rule: RulePath, body: RuleIn, key: AlertsAdmin, context: Context
) -> RuleOut:
    """Replace a rule's settings; its history keeps who changed it and when."""
    _find_rule(context, key.tenant, rule)
    changed = _rule(rule, body)
    write_rule(
        context.notifications.store, key.tenant, changed, by=f"key:{key.id}", change="update"
    )
    return _rule_out(changed)


@router.delete("/tenants/{tenant}/alert-rules/{rule}", status_code=204, summary="Delete a rule")
def delete_rule(tenant: TenantPath, rule: RulePath, key: AlertsAdmin, context: Context) -> Response:
    """Stop a rule; the alerts it raised stay."""
    found = _find_rule(context, key.tenant, rule)
    write_rule(context.notifications.store, key.tenant, found, by=f"key:{key.id}", change="delete")
    return Response(status_code=204)

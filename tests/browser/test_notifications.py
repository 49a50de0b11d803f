"""The notifications page: operators manage threshold rules, viewers only read them; a browser
subscribes to pushes and its service worker shows a pushed alert as a notification."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from browser.ui_support import Browse, UiEnv, wait_idle, wait_js
from push_service import PushService

from dashboard.keys import Role
from notify.deliverer import Deliverer, RetryPolicy
from notify.outbox import Outbox, State
from notify.push import PushChannel, load_vapid
from shinshu.localservices import free_port

pytestmark = pytest.mark.integration


def _delivered(outbox: Outbox) -> set[str]:
    return {i.key for i in outbox.listing(states=[State.DELIVERED])}


def _rules(ui_env: UiEnv) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{ui_env.url}/api/v1/tenants/alpha/alert-rules",
        headers={"X-API-Key": ui_env.token(Role.VIEWER)},
    )
    assert answer.status_code == 200
    return answer.json()


@pytest.mark.parametrize(("lang", "viewport"), [("ja", "phone"), ("en", "desktop")])
def test_an_operator_creates_changes_and_deletes_a_rule(
    ui_env: UiEnv, browse: Browse, lang: str, viewport: str
) -> None:
    """Add a soil-moisture rule in the form, change its threshold, delete it; the API agrees."""
    probe = browse.open("/notifications", role=Role.OPERATOR, lang=lang, viewport=viewport)
    page = probe.page
    page.click("#add-rule")
    form = page.locator("form[data-form=rule]")
    name = f"乾燥 {lang} {viewport}"
    form.locator("[name=name]").fill(name)
    form.locator("[name=threshold]").fill("20")
    form.locator("[name=duration_h]").fill("6")
    form.locator("[data-save]").click()
    wait_js(
        page,
        "[...document.querySelectorAll('.rule strong')]"
        f".some(e => e.textContent === {json.dumps(name)})",
    )
    (made,) = [r for r in _rules(ui_env) if r["name"] == name]
    assert (made["kind"], made["comparison"], made["threshold"], made["duration_min"]) == (
        "soil_moisture",
        "below",
        20,
        360,
    )
    item = page.locator(f"[data-rule='{made['id']}']")
    item.locator("[data-action=edit-rule]").click()
    item.locator("[name=threshold]").fill("15")
    item.locator("[data-save]").click()
    wait_js(page, f"!document.querySelector(\"[data-rule='{made['id']}'] form\")")
    assert [r["threshold"] for r in _rules(ui_env) if r["id"] == made["id"]] == [15]
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"[data-rule='{made['id']}'] [data-action=delete-rule]").click()
    wait_js(page, f"!document.querySelector(\"[data-rule='{made['id']}']\")")
    assert made["id"] not in {r["id"] for r in _rules(ui_env)}
    assert not probe.console_errors, probe.console_errors


def test_a_viewer_sees_rules_but_no_controls(ui_env: UiEnv, browse: Browse) -> None:
    """Viewers list the rules; no add, edit or delete, no recipients, no dead letters."""
    operator = {"X-API-Key": ui_env.token(Role.OPERATOR)}
    rule = {
        "name": "高温",
        "kind": "air_temperature",
        "comparison": "above",
        "threshold": 30,
        "duration_min": 60,
    }
    made = httpx.post(f"{ui_env.url}/api/v1/tenants/alpha/alert-rules", json=rule, headers=operator)
    assert made.status_code == 201
    try:
        for lang in ("ja", "en"):
            page = browse.open("/notifications", role=Role.VIEWER, lang=lang).page
            assert page.locator(f"[data-rule='{made.json()['id']}']").count() == 1
            for control in (
                "#add-rule",
                "[data-action=edit-rule]",
                "[data-action=delete-rule]",
                "#add-subscription",
                "#subscriptions",
                "#dead",
            ):
                assert page.locator(control).count() == 0, control
    finally:
        httpx.delete(
            f"{ui_env.url}/api/v1/tenants/alpha/alert-rules/{made.json()['id']}", headers=operator
        )


def test_a_pushed_alert_is_shown_by_the_service_worker(ui_env: UiEnv, browse: Browse) -> None:
    """The page registers its service worker and stores its push subscription; the server's
    encrypted push is decrypted by the push service and shown by the worker as a notification.

    Chromium here cannot reach a real push service, so `PushManager.subscribe` answers with the
    local push service's subscription (as a browser answers with its vendor's): everything after
    it — storing it, VAPID signing, RFC 8291 encryption, decryption, the worker showing it —
    is real.
    """
    service = PushService(free_port())
    service.start()
    subscription = json.loads(service.subscription())
    probe = browse.open("/notifications", role=Role.VIEWER, lang="ja", viewport="phone", wait=False)
    page = probe.page
    context = page.context
    context.grant_permissions(["notifications"], origin=ui_env.url)
    page.add_init_script(
        "PushManager.prototype.subscribe = async function () {"
        f"  const s = {json.dumps(subscription)};"
        "  return { endpoint: s.endpoint, toJSON: () => s };"
        "};"
        "PushManager.prototype.getSubscription = async function () { return null; };"
    )
    page.reload()
    wait_idle(page)
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)").endswith(
        "/sw.js"
    )
    page.click("#push-on")
    wait_js(page, "document.querySelector('#push-status')?.dataset.state === 'pushOn'", 20)
    subs = ui_env.app.state.context.notifications.subscriptions.of_tenant("alpha")
    (stored,) = [s for s in subs if s.channel.value == "push" and service.endpoint in s.target]
    assert stored.lang == "ja"
    assert stored.owner  # the signed-in key's own browser
    # The page's test button queues a test notification for this browser in the app's outbox;
    # the notifier's push channel sends it to the stored subscription.
    page.click("#push-test")
    wait_js(page, "document.querySelector('#push-status')?.dataset.state === 'testQueued'")
    outbox = ui_env.app.state.context.notifications.outbox
    (queued,) = [i for i in outbox.listing(states=[State.PENDING]) if i.destination == stored.id]
    key = load_vapid(ui_env.app.state.context.settings.store.vapid_path)
    channel = PushChannel(key, "mailto:ops@shinshu.example", {stored.id: stored.target}.get)
    deliverer = Deliverer(outbox, {"push": channel}, policy=RetryPolicy(0.01, 0.02, 2))
    try:
        deadline = time.monotonic() + 20
        while queued.key not in _delivered(outbox) and time.monotonic() < deadline:
            deliverer.run_once()
    finally:
        deliverer.close()
        channel.close()
        service.stop()
    assert queued.key in _delivered(outbox)
    (received,) = service.messages
    # What the push service decrypted goes to the browser's worker, as a push service does.
    cdp = context.new_cdp_session(page)
    versions: list[dict[str, str]] = []
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: versions.extend(e["versions"]))
    cdp.send("ServiceWorker.enable")
    wait_js(page, "true")
    deadline = time.monotonic() + 10
    while not versions and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    registration = versions[0]["registrationId"]
    message = {k: v for k, v in received.items() if not k.startswith("_")}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": ui_env.url, "registrationId": registration, "data": json.dumps(message)},
    )
    shown = (
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(n => n.map(x => [x.title, x.body, x.tag]))"
    )
    deadline = time.monotonic() + 10
    notes = page.evaluate(shown)
    while not notes and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        notes = page.evaluate(shown)
    ((title, body, tag),) = notes
    assert title == "テスト通知" and "対応は必要ありません" in body and tag


def test_an_operator_sends_a_test_through_a_subscription(ui_env: UiEnv, browse: Browse) -> None:
    """The subscription's "send a test" button queues one notification for it in the outbox."""
    operator = {"X-API-Key": ui_env.token(Role.OPERATOR)}
    base = f"{ui_env.url}/api/v1/tenants/alpha/notifications"
    made = httpx.post(
        f"{base}/subscriptions",
        json={"channel": "email", "target": "sato@example.jp", "lang": "ja"},
        headers=operator,
    )
    assert made.status_code == 201
    sub = made.json()["id"]
    try:
        probe = browse.open("/notifications", role=Role.OPERATOR, lang="ja")
        page = probe.page
        item = page.locator(f"[data-subscription='{sub}']")
        item.locator("[data-action=test-subscription]").click()
        wait_js(
            page,
            f"document.querySelector(\"[data-subscription='{sub}'] [data-slot=test]\")"
            ".dataset.state === 'queued'",
        )
        pending = httpx.get(f"{base}/outbox", params={"state": "pending"}, headers=operator)
        assert [i["subscription"] for i in pending.json()].count(sub) == 1
        assert not probe.console_errors, probe.console_errors
    finally:
        httpx.delete(f"{base}/subscriptions/{sub}", headers=operator)

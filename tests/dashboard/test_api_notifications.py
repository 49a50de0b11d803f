"""The notification and threshold-rule API: who may do what, secrets shown once, bad input."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role
from notify.webhook import signature, verify
from tests.dashboard.conftest import PUSH_SUBSCRIPTION

pytestmark = pytest.mark.integration
BASE = "/api/v1/tenants/alpha"
RULE = {
    "name": "乾燥注意",
    "kind": "soil_moisture",
    "comparison": "below",
    "threshold": 20,
    "duration_min": 360,
    "hysteresis": 2,
    "severity": "warning",
}


def test_a_webhook_secret_is_answered_once_and_signs(api_env: ApiEnv) -> None:
    """The create answer has the secret; the list never does; the secret verifies a signature."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    made = api_env.client.post(
        f"{BASE}/notifications/subscriptions",
        json={
            "channel": "webhook",
            "target": "https://bridge.example.org/line",
            "lang": "en",
            "kinds": ["drop"],
            "quiet_start": "22:00",
            "quiet_end": "06:00",
        },
        headers=operator,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["secret"]
    assert len(secret) >= 40
    header = signature(secret.encode(), 1_700_000_000, b"{}")
    assert verify(secret.encode(), header, b"{}", now_s=1_700_000_000)
    listed = api_env.client.get(f"{BASE}/notifications/subscriptions", headers=operator)
    assert listed.status_code == 200
    assert secret not in listed.text
    mine = next(s for s in listed.json() if s["id"] == body["id"])
    assert (mine["quiet_start"], mine["quiet_end"], mine["kinds"]) == ("22:00", "06:00", ["drop"])
    viewer = api_env.headers("alpha", Role.VIEWER)
    assert (
        api_env.client.get(f"{BASE}/notifications/subscriptions", headers=viewer).status_code == 403
    )
    gone = api_env.client.delete(
        f"{BASE}/notifications/subscriptions/{body['id']}", headers=operator
    )
    assert gone.status_code == 204
    again = api_env.client.delete(
        f"{BASE}/notifications/subscriptions/{body['id']}", headers=operator
    )
    assert again.status_code == 404


def test_bad_subscriptions_are_refused_with_a_reason(api_env: ApiEnv) -> None:
    """A webhook that is no URL, an e-mail without @, an escalation to nobody."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    for body, status, words in (
        ({"channel": "webhook", "target": "ftp://x/y"}, 400, "http(s) URL"),
        ({"channel": "email", "target": "not-an-address"}, 400, "e-mail"),
        ({"channel": "email", "target": "a@b.jp", "escalate_to": "sub_nope"}, 404, "sub_nope"),
        ({"channel": "sms", "target": "090"}, 422, ""),
    ):
        answer = api_env.client.post(
            f"{BASE}/notifications/subscriptions", json=body, headers=operator
        )
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.text


def test_any_reader_may_have_alerts_pushed_to_their_browser(api_env: ApiEnv) -> None:
    """A viewer stores its browser's push subscription; the server's VAPID key is public."""
    viewer = api_env.headers("alpha", Role.VIEWER)
    key = api_env.client.get("/api/v1/push/key", headers=viewer)
    assert key.status_code == 200
    assert len(key.json()["application_server_key"]) == 87  # 65 bytes, base64url
    made = api_env.client.post(
        f"{BASE}/notifications/push",
        json={"subscription": PUSH_SUBSCRIPTION, "lang": "ja"},
        headers=viewer,
    )
    assert made.status_code == 201, made.text
    assert made.json()["channel"] == "push"
    assert made.json()["target"] == PUSH_SUBSCRIPTION["endpoint"]
    broken = api_env.client.post(
        f"{BASE}/notifications/push", json={"subscription": {"endpoint": "x"}}, headers=viewer
    )
    assert broken.status_code == 400
    assert "endpoint" in broken.text


def test_operators_write_rules_and_viewers_read_them(api_env: ApiEnv) -> None:
    """Create, change and delete a rule as an operator; a viewer lists but cannot write."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    viewer = api_env.headers("alpha", Role.VIEWER)
    assert api_env.client.post(f"{BASE}/alert-rules", json=RULE, headers=viewer).status_code == 403
    made = api_env.client.post(f"{BASE}/alert-rules", json=RULE, headers=operator)
    assert made.status_code == 201, made.text
    rule_id = made.json()["id"]
    changed = api_env.client.put(
        f"{BASE}/alert-rules/{rule_id}", json={**RULE, "threshold": 15}, headers=operator
    )
    assert changed.status_code == 200 and changed.json()["threshold"] == 15
    listed = api_env.client.get(f"{BASE}/alert-rules", headers=viewer).json()
    assert [r["threshold"] for r in listed if r["id"] == rule_id] == [15]
    assert (
        api_env.client.delete(f"{BASE}/alert-rules/{rule_id}", headers=operator).status_code == 204
    )
    listed = api_env.client.get(f"{BASE}/alert-rules", headers=viewer).json()
    assert rule_id not in {r["id"] for r in listed}
    bad = api_env.client.post(
        f"{BASE}/alert-rules", json={**RULE, "duration_min": 0}, headers=operator
    )
    assert bad.status_code == 422


def test_a_test_notification_is_queued_for_one_subscription(api_env: ApiEnv) -> None:
    """An operator's "send a test" queues one notification for that subscription, due at once
    despite its quiet hours, in its language; a viewer may not; an unknown id is 404."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    made = api_env.client.post(
        f"{BASE}/notifications/subscriptions",
        json={
            "channel": "email",
            "target": "tanaka@example.jp",
            "lang": "ja",
            "quiet_start": "00:00",
            "quiet_end": "23:59",
        },
        headers=operator,
    ).json()
    url = f"{BASE}/notifications/subscriptions/{made['id']}/test"
    assert (
        api_env.client.post(url, headers=api_env.headers("alpha", Role.VIEWER)).status_code == 403
    )
    sent = api_env.client.post(url, headers=operator)
    assert sent.status_code == 202, sent.text
    queued = api_env.client.get(
        f"{BASE}/notifications/outbox", params={"state": "pending"}, headers=operator
    ).json()
    (item,) = [i for i in queued if i["key"] == sent.json()["key"]]
    assert (item["subscription"], item["channel"]) == (made["id"], "email")
    outbox = api_env.app.state.context.notifications.outbox
    (pending,) = [p for p in outbox.listing(tenant="alpha", states=[]) if p.key == item["key"]]
    assert "テスト通知" in json.dumps(json.loads(pending.payload), ensure_ascii=False)
    assert pending.next_ms <= pending.queued_ms  # not held for the quiet hours
    missing = api_env.client.post(
        f"{BASE}/notifications/subscriptions/sub_nope/test", headers=operator
    )
    assert missing.status_code == 404


def test_a_chat_url_is_kept_but_never_shown(api_env: ApiEnv) -> None:
    """An apprise URL subscription is stored; answers and listings show only its scheme; an
    unknown service is refused without echoing the URL."""
    operator = api_env.headers("alpha", Role.OPERATOR)
    url = f"{BASE}/notifications/subscriptions"
    token = "T0KEN-of-a-chat-service"
    made = api_env.client.post(
        url, json={"channel": "apprise", "target": f"json://127.0.0.1:9/{token}"}, headers=operator
    )
    assert made.status_code == 201, made.text
    assert made.json()["target"] == "json://…" and token not in made.text
    listed = api_env.client.get(url, headers=operator)
    assert token not in listed.text and made.json()["id"] in listed.text
    refused = api_env.client.post(
        url, json={"channel": "apprise", "target": f"nosuch://{token}"}, headers=operator
    )
    assert refused.status_code == 400 and token not in refused.text


def test_a_reader_tests_only_their_own_browsers(api_env: ApiEnv) -> None:
    """A viewer's test push is queued for the browser it subscribed; a key with no browser of
    its own gets 404 (it cannot test someone else's)."""
    viewer = api_env.headers("alpha", Role.VIEWER)
    made = api_env.client.post(
        f"{BASE}/notifications/push",
        json={"subscription": {**PUSH_SUBSCRIPTION, "endpoint": "https://push.example/own"}},
        headers=viewer,
    ).json()
    sent = api_env.client.post(f"{BASE}/notifications/push/test", headers=viewer)
    assert sent.status_code == 202, sent.text
    assert made["id"] in [q["subscription"] for q in sent.json()]
    other = api_env.client.post(
        f"{BASE}/notifications/push/test", headers=api_env.headers("alpha", Role.OPERATOR)
    )
    assert other.status_code == 404

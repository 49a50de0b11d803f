"""E-mail through a real SMTP server (aiosmtpd): STARTTLS, a login, plain text and HTML."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_server import Mailbox, SmtpServer

from notify.deliverer import Deliverer, RetryPolicy
from notify.dispatcher import Dispatcher
from notify.email import EmailChannel, Security
from notify.email import SmtpServer as SmtpTarget
from notify.outbox import Outbox, Outgoing, State
from notify.subscriptions import ChannelKind, Subscription, Subscriptions
from shinshu.localservices import free_port
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.sqlite.store import SqliteStore

USER, PASSWORD = "notifier", "mail-pass-for-tests"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server that requires STARTTLS and a login."""
    server = SmtpServer(free_port(), tmp_path, Mailbox(USER, PASSWORD))
    server.start()
    yield server
    server.stop()


def _mail(key: str, to: str, lang: str) -> Outgoing:
    subject = "在庫の盗難の疑い" if lang == "ja" else "Suspected theft from stock"
    payload = {
        "to": to,
        "lang": lang,
        "subject": subject,
        "text": f"{subject}: bin-3",
        "html": f"<p>{subject}: <b>bin-3</b></p>",
    }
    return Outgoing(key, "email", to, "alpha", json.dumps(payload, ensure_ascii=False))


def _target(smtp: SmtpServer, password: str = PASSWORD) -> SmtpTarget:
    return SmtpTarget(
        "127.0.0.1",
        smtp.port,
        "alerts@shinshu.example",
        Security.STARTTLS,
        USER,
        password,
        ca_file=smtp.cert,
    )


def _deliver_all(outbox: Outbox, channel: EmailChannel) -> None:
    deliverer = Deliverer(outbox, {"email": channel}, policy=RetryPolicy(0.01, 0.02, 2))
    try:
        while outbox.next_due_ms() is not None:
            deliverer.run_once()
    finally:
        deliverer.close()


def test_mail_arrives_over_starttls_in_each_recipients_language(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """Two recipients, Japanese and English: text and HTML, Message-ID from the key."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.enqueue(
        [_mail("k-ja", "tanaka@example.jp", "ja"), _mail("k-en", "smith@example.org", "en")],
        now_ms=1_700_000_000_000,
    )
    _deliver_all(outbox, EmailChannel(_target(smtp)))
    by_to = {m["To"]: m for m in smtp.mailbox.messages}
    assert set(by_to) == {"tanaka@example.jp", "smith@example.org"}
    ja, en = by_to["tanaka@example.jp"], by_to["smith@example.org"]
    assert ja["Subject"] == "在庫の盗難の疑い"
    assert en["Subject"] == "Suspected theft from stock"
    assert ja["Content-Language"] == "ja"
    assert ja["Message-ID"] == "<k-ja@shinshu.example>"
    assert ja.get_body(("plain",)).get_content().strip() == "在庫の盗難の疑い: bin-3"
    assert "<b>bin-3</b>" in ja.get_body(("html",)).get_content()
    assert smtp.mailbox.logins == [(USER, True), (USER, True)]
    assert outbox.counts() == {("email", State.DELIVERED): 2}


def test_a_wrong_password_and_an_unknown_mailbox_end_as_dead_letters(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """535 and 550 will not change by retrying: dead letters with the server's answer."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.enqueue([_mail("k-1", "x@example.jp", "ja")], now_ms=0)
    _deliver_all(outbox, EmailChannel(_target(smtp, password="wrong")))
    (dead,) = outbox.listing(states=[State.DEAD])
    assert dead.last_error.startswith("SMTP 535")
    smtp.mailbox.refuse.add("nobody@example.jp")
    outbox.enqueue([_mail("k-2", "nobody@example.jp", "en")], now_ms=0)
    _deliver_all(outbox, EmailChannel(_target(smtp)))
    dead = next(d for d in outbox.listing(states=[State.DEAD]) if d.key == "k-2")
    assert "550" in dead.last_error
    assert smtp.mailbox.messages == []


def test_a_password_is_never_sent_without_tls() -> None:
    """An unprotected connection with a password is refused before anything is sent."""
    with pytest.raises(ValueError, match="without TLS"):
        SmtpTarget("127.0.0.1", 25, "a@b", Security.NONE, "u", "p")


def test_a_theft_alert_reaches_a_japanese_and_an_english_reader(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """A stored drop alert, two e-mail subscriptions: each mail is wholly in its language."""
    store = SqliteStore(tmp_path / "store.sqlite3")
    now_ms = int(time.time() * 1000)
    subs = Subscriptions(tmp_path / "n.sqlite3")
    for to, lang in (("tanaka@example.jp", "ja"), ("smith@example.org", "en")):
        subs.add(
            Subscription("", "alpha", to, ChannelKind.EMAIL, to, lang=lang), now_ms=now_ms - 1000
        )
    theft = Alert(
        "alpha",
        "works",
        "gw",
        "w1",
        AlertKind.DROP,
        now_ms - 500,
        0.9,
        "bin b1: weight fell by 12.0 kg (6 items) that the count does not explain",
        now_ms,
        reason_ja="ビン b1: 個数の記録では説明できない 12.0 kg（6 個分）の重量の減少",
    )
    alerts = AlertStore(store)
    alerts.write([theft])
    outbox = Outbox(tmp_path / "n.sqlite3")
    assert Dispatcher(alerts, subs, outbox).run_once() == 2
    _deliver_all(outbox, EmailChannel(_target(smtp)))
    by_to = {m["To"]: m for m in smtp.mailbox.messages}
    ja, en = by_to["tanaka@example.jp"], by_to["smith@example.org"]
    assert ja["Subject"].strip() == "[信州 IoT] 在庫の急減（盗難・誤出庫の疑い）"
    english = "[Shinshu IoT] Sudden drop in stock (possible theft or wrong withdrawal)"
    # A long subject is folded; the parser keeps the fold's space.
    assert en["Subject"].strip() == english
    ja_text = ja.get_body(("plain",)).get_content()
    en_text = en.get_body(("plain",)).get_content()
    assert "12.0 kg（6 個分）" in ja_text and "日本時間" in ja_text
    # Nothing English but the ids of the place (site, device, sensor).
    words = set(re.findall(r"[A-Za-z]{3,}", ja_text)) - {"IoT", "works"}
    assert not words, words
    assert "weight fell by 12.0 kg" in en_text and "Japan time" in en_text
    assert "<h1" in ja.get_body(("html",)).get_content()

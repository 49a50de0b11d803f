"""E-mail through a real SMTP server (aiosmtpd): STARTTLS, a login, plain text and HTML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_server import Mailbox, SmtpServer

from notify.deliverer import Deliverer, RetryPolicy
from notify.email import EmailChannel, Security
from notify.email import SmtpServer as SmtpTarget
from notify.outbox import Outbox, Outgoing, State
from shinshu.localservices import free_port

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

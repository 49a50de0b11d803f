"""E-mail delivery through an SMTP server: STARTTLS (or TLS from the start) and authentication.

Each notification's payload carries its recipient, subject, plain text and HTML, already in the
recipient's language. The message's `Message-ID` is made from the idempotency key, so a mail
sent again after a crash is recognisable as the same message (and mail systems that
de-duplicate by it show it once).

A 5xx answer of the server (no such mailbox, refused sender) will not change by retrying and
ends in a dead letter; 4xx answers, refused connections and timeouts are tried again.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from enum import StrEnum
from pathlib import Path

from notify.outbox import Queued
from notify.types import Outcome


class Security(StrEnum):
    """How the connection to the SMTP server is protected."""

    STARTTLS = "starttls"
    TLS = "tls"
    # Only for a relay on the same machine; never with a password.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where mail is handed over, as whom, and how the server's certificate is checked."""

    host: str
    port: int
    sender: str
    security: Security = Security.STARTTLS
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        """Refuse a password over an unprotected connection."""
        if self.security is Security.NONE and self.password:
            raise ValueError("an SMTP password is never sent without TLS")

    def tls_context(self) -> ssl.SSLContext:
        """A context that verifies the server (against `ca_file` when given)."""
        return ssl.create_default_context(cafile=self.ca_file)


def message_of(item: Queued, sender: str) -> EmailMessage:
    """The e-mail of a queued notification: plain text with an HTML alternative."""
    payload = json.loads(item.payload)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(item.queued_ms / 1000, localtime=False)
    message["Message-ID"] = f"<{item.key}@{sender.rpartition('@')[2] or 'shinshu'}>"
    message.set_content(payload["text"], charset="utf-8")
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html", charset="utf-8")
    # After the content: setting it clears every Content-* header.
    message["Content-Language"] = payload.get("lang", "ja")
    return message


class EmailChannel:
    """Sends queued e-mail notifications through one SMTP server."""

    name = "email"

    def __init__(self, server: SmtpServer) -> None:
        """Mail goes through `server`; a connection is opened per message."""
        self._server = server

    def _connect(self) -> smtplib.SMTP:
        server = self._server
        if server.security is Security.TLS:
            return smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout_s, context=server.tls_context()
            )
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)
        if server.security is Security.STARTTLS:
            smtp.starttls(context=server.tls_context())
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        """Log in once, with PLAIN where offered (over TLS): a refused password is refused once,
        not tried again with every other mechanism the server lists."""
        user, password = self._server.username or "", self._server.password or ""
        smtp.ehlo_or_helo_if_needed()
        if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
            smtp.user, smtp.password = user, password
            smtp.auth("PLAIN", smtp.auth_plain)
        else:
            smtp.login(user, password)

    def send(self, item: Queued) -> Outcome:
        """Hand the message to the server; the outcome says whether to retry."""
        try:
            message = message_of(item, self._server.sender)
        except (ValueError, KeyError, TypeError) as exc:
            return Outcome.refused(f"the notification is not an e-mail: {exc}")
        try:
            with self._connect() as smtp:
                if self._server.username:
                    self._login(smtp)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome.refused(f"the server refused the recipient: {_first(exc)}")
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
            return Outcome.refused(reason) if exc.smtp_code >= 500 else Outcome.transient(reason)
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome.transient(f"{type(exc).__name__}: {exc}")
        return Outcome.success()


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _first(exc: smtplib.SMTPRecipientsRefused) -> str:
    for address, (code, text) in exc.recipients.items():
        return f"{address}: {code} {_text(text)}"
    return "no recipient"

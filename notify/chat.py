"""Chat and messaging services (LINE, Slack, Microsoft Teams, Discord, ntfy, ...) through
`apprise` URLs: one URL per subscription names the service and carries its token, so no
integration is written per service.

An apprise URL holds the service's secret, so it is shown masked (`masked_url`) and never
logged. Apprise answers only "sent" or "not sent": a failure is tried again with the usual
backoff and ends as a dead letter after the notifier's give-up time. Chat services keep no
idempotency key, so a notification whose attempt was cut off by a crash may be posted twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from notify.outbox import Queued
from notify.types import Outcome

log = logging.getLogger(__name__)

Targets = Callable[[str], "str | None"]


def masked_url(url: str) -> str:
    """The URL with everything after its scheme hidden (it carries the service's token)."""
    scheme, sep, _rest = url.partition("://")
    return f"{scheme}://…" if sep else "…"


def check_url(url: str) -> None:
    """ValueError unless apprise knows the URL's service and can parse it."""
    import apprise

    if not apprise.Apprise().add(url):
        raise ValueError(f"not a notification URL apprise can use: {masked_url(url)}")


class ChatChannel:
    """Sends queued notifications through each destination's apprise URL."""

    name = "apprise"

    def __init__(self, targets: Targets) -> None:
        """`targets` gives a destination's apprise URL (None: no such subscription)."""
        import apprise

        self._apprise = apprise
        self._targets = targets
        # Apprise's own records, and the HTTP library's debug lines under it, name the URL
        # with its token: neither may reach a log, whatever the log level.
        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

    def send(self, item: Queued) -> Outcome:
        """Post the notification's title and text to the destination's service."""
        url = self._targets(item.destination)
        if url is None:
            return Outcome.refused(f"no chat URL is configured as {item.destination!r}")
        message = json.loads(item.payload)
        sender = self._apprise.Apprise()
        if not sender.add(url):
            return Outcome.refused(f"the URL {masked_url(url)} is not one apprise can use")
        if sender.notify(title=message["title"], body=message["body"]):
            return Outcome.success()
        return Outcome.transient(f"the service behind {masked_url(url)} did not take it")

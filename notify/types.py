"""What a channel answers for one attempt: delivered, try again later, or never."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from notify.outbox import Queued


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    permanent: bool
    reason: str

    @classmethod
    def success(cls) -> Outcome:
        """The receiver took it."""
        return cls(ok=True, permanent=False, reason="")

    @classmethod
    def transient(cls, reason: str) -> Outcome:
        """It failed in a way that may pass (a receiver down, a timeout)."""
        return cls(ok=False, permanent=False, reason=reason)

    @classmethod
    def refused(cls, reason: str) -> Outcome:
        """It failed in a way that retrying will not change (a refusal, no such address)."""
        return cls(ok=False, permanent=True, reason=reason)


class Channel(Protocol):
    """A way of delivering queued notifications (webhook, e-mail, Web Push)."""

    name: str

    def send(self, item: Queued) -> Outcome:
        """Try to deliver `item` once."""
        ...

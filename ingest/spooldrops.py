"""Readings devices dropped from full spools, counted from the totals their status reports.

A device's status carries its spool's running total of dropped readings. The counter grows by
what each report adds to the last one seen from that device; a total lower than the last (the
agent's spool was replaced) counts from zero. A status delivered twice adds nothing.
"""

from __future__ import annotations

from prometheus_client import Counter

from edge.protocol import DeviceTopic


class SpoolDrops:
    """Turns devices' reported totals into one counter by tenant."""

    def __init__(self, counter: Counter) -> None:
        """`counter` has the label `tenant`."""
        self._counter = counter
        self._last: dict[tuple[str, str, str], int] = {}

    def report(self, topic: DeviceTopic, total: int | None) -> int:
        """Note a device's reported total; returns the readings newly counted."""
        if total is None or total < 0:
            return 0
        key = (topic.tenant, topic.site, topic.device)
        last = self._last.get(key)
        self._last[key] = total
        if last is None:
            # The first report since this worker started: its total is news only if it is not
            # zero, and a worker restart must not count a device's old drops again, so the
            # first total only sets the baseline.
            return 0
        added = total - last if total >= last else total
        if added:
            self._counter.labels(topic.tenant).inc(added)
        return added

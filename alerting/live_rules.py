"""Threshold rules evaluated on readings as they arrive, so an alert follows its reading in
about a second instead of waiting for the next pass of `ThresholdWatch`.

The alerts service sees every uplink message at the same time as ingest. For each reading that
a rule in force covers, the sensor's episode tracker (warmed once from the store's recent
readings, up to the first reading seen live) takes it; when an episode reaches the rule's
duration, the same alert `ThresholdWatch` would write is written, before the message is
acknowledged. `ThresholdWatch` still runs: it covers what this cannot see — readings that
arrive late or out of order (a spool uploading after an outage), a rule made or changed in the
middle of an episode, an episode that began before the warm-up window — and it moves an
alert's `last_seen` while the episode lasts. Both stamp an episode's alert the same, so the two
never raise one episode twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cachetools import LRUCache

from alerting.thresholds import EpisodeTracker, rule_alert
from core.time import MS_PER_HOUR
from edge.protocol import DeviceTopic, Reading
from storage.alert_types import Alert
from storage.alerts import AlertStore
from storage.protocol import ReadingStore
from storage.rules import ThresholdRule, read_rules

log = logging.getLogger(__name__)

RULES_REFRESH_S = 10.0
# Trackers held at most: the least recently fed go first. A dropped tracker costs only a new
# warm-up from the store when its sensor reports again, so a device inventing sensor names
# cannot grow the service without bound.
MAX_TRACKED = 50_000

SeriesKey = tuple[str, ThresholdRule, str, str, str]  # tenant, rule, site, device, sensor


@dataclass(slots=True)
class _Series:
    """One sensor under one rule: its tracker, the newest reading taken, whether its current
    episode's start is known (not cut off by the warm-up window) and already alerted."""

    tracker: EpisodeTracker
    last_ms: int
    start_known: bool
    alerted: int | None = None


class LiveRules:
    """Episode trackers of every rule in force over the sensors seen live."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        refresh_s: float = RULES_REFRESH_S,
        max_tracked: int = MAX_TRACKED,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read rules from `store` every `refresh_s`; warm trackers through `alerts.history`;
        hold at most `max_tracked` trackers."""
        self._store = store
        self._alerts = alerts
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._loaded_at: float | None = None
        self._rules: dict[tuple[str, str], list[ThresholdRule]] = {}
        self._series: LRUCache[SeriesKey, _Series] = LRUCache(max_tracked)

    def _rules_for(self, tenant: str, kind: str) -> list[ThresholdRule]:
        now = self._monotonic()
        if self._loaded_at is None or now - self._loaded_at >= self._refresh_s:
            self._loaded_at = now
            by_kind: dict[tuple[str, str], list[ThresholdRule]] = {}
            for owner, rules in read_rules(self._store).items():
                for rule in rules:
                    by_kind.setdefault((owner, rule.kind.value), []).append(rule)
            self._rules = by_kind
            # A changed or deleted rule's trackers go; the new version starts afresh.
            live = {r for rules in by_kind.values() for r in rules}
            for gone in [k for k in self._series if k[1] not in live]:
                del self._series[gone]
        return self._rules.get((tenant, kind), [])

    def offer(self, topic: DeviceTopic, readings: Sequence[Reading]) -> list[Alert]:
        """Take one message's readings; returns the alerts of episodes that just reached their
        rule's duration (the caller stores them before acknowledging the message)."""
        raised: list[Alert] = []
        for reading in sorted(readings, key=lambda r: r.ts_ms):
            for rule in self._rules_for(topic.tenant, reading.kind.value):
                if rule.site and rule.site != topic.site:
                    continue
                if rule.device and rule.device != topic.device:
                    continue
                alert = self._take(topic, rule, reading)
                if alert is not None:
                    raised.append(alert)
        return raised

    def _take(self, topic: DeviceTopic, rule: ThresholdRule, reading: Reading) -> Alert | None:
        key = (topic.tenant, rule, topic.site, topic.device, reading.sensor)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._warm(key, reading.ts_ms)
        if reading.ts_ms <= series.last_ms:
            return None  # late or repeated: ThresholdWatch reads it from the store
        series.last_ms = reading.ts_ms
        if series.tracker.feed(reading.ts_ms, reading.value) is not None:
            series.start_known, series.alerted = True, None
        episode = series.tracker.current
        if episode is None or not series.start_known:
            return None
        start, last, _ = episode
        if series.alerted == start or last - start < int(rule.duration_min * 60_000):
            return None
        series.alerted = start
        return rule_alert(topic.tenant, (topic.site, topic.device, reading.sensor), rule, episode)

    def _warm(self, key: SeriesKey, first_ms: int) -> _Series:
        """A tracker fed the stored readings of the window before `first_ms`."""
        tenant, rule, site, device, sensor = key
        span = 2 * int(rule.duration_min * 60_000) + MS_PER_HOUR
        points = self._alerts.history(
            tenant, site, device, sensor, rule.kind, start_ms=first_ms - span, end_ms=first_ms
        )
        tracker = EpisodeTracker(rule)
        for at_ms, value in points:
            tracker.feed(at_ms, value)
        current = tracker.current
        # An episode open since the window's first reading may have begun before it.
        start_known = current is None or not points or current[0] != points[0][0]
        series = _Series(tracker, points[-1][0] if points else -1, start_known)
        if current is not None and current[1] - current[0] >= int(rule.duration_min * 60_000):
            series.alerted = current[0]  # raised already, by a pass or before a restart
        return series

    @property
    def tracked(self) -> int:
        """How many sensor × rule trackers are held."""
        return len(self._series)

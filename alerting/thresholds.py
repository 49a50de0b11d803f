"""Threshold rules evaluated on stored readings: one alert per episode, stamped at its start.

Each pass reads, per rule, the readings of the last `2 × duration + 1 h` of every sensor the
rule covers. An episode starts with the first reading beyond the threshold and lasts while no
reading is back past it by the hysteresis; it raises an alert once it has lasted the rule's
duration. The alert is stamped with the moment it had lasted that long (the episode's start +
the duration), so later passes rewrite the same alert (with the newest time it was confirmed)
instead of adding one, and a rule of days is still raised as news rather than as history. An
episode that began before the window is followed back (the window doubles, up to
`max_lookback_ms`) to find that start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerting.wording import KIND_JA
from core.time import MS_PER_DAY, MS_PER_HOUR
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.layout import DEVICE, SENSOR, SITE, VALUE
from storage.protocol import ReadingStore
from storage.query import Select, match
from storage.rules import ThresholdRule, read_rules

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EpisodeTracker:
    """One sensor's episode of one rule, fed a reading at a time in time order."""

    rule: ThresholdRule
    start: int | None = None
    last: int = 0
    worst: float = 0.0

    def feed(self, at_ms: int, value: float) -> tuple[int, int, float] | None:
        """Take the next reading; returns the episode it ended, if it ended one."""
        if self.start is None:
            if self.rule.breached(value):
                self.start, self.last, self.worst = at_ms, at_ms, value
            return None
        if self.rule.cleared(value):
            ended = (self.start, self.last, self.worst)
            self.start = None
            return ended
        self.last = at_ms
        below = self.rule.comparison.value == "below"
        self.worst = min(self.worst, value) if below else max(self.worst, value)
        return None

    @property
    def current(self) -> tuple[int, int, float] | None:
        """The episode still going on, if any."""
        return None if self.start is None else (self.start, self.last, self.worst)


def episodes(
    rule: ThresholdRule, points: Sequence[tuple[int, float]]
) -> list[tuple[int, int, float]]:
    """(start, last, worst value) of each episode in time-ordered points, long enough or not."""
    tracker = EpisodeTracker(rule)
    out = [ended for at_ms, value in points if (ended := tracker.feed(at_ms, value))]
    if tracker.current is not None:
        out.append(tracker.current)
    return out


class ThresholdWatch:
    """Raises threshold alerts for every tenant's rules."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        clock: Callable[[], float] = time.time,
        max_lookback_ms: int = 7 * MS_PER_DAY,
    ) -> None:
        """Read rules and readings from `store`; write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self._max_lookback_ms = max_lookback_ms

    def run_once(self) -> list[Alert]:
        """One pass over every rule; returns the alerts written. A rule that fails is logged
        and the others go on."""
        now_ms = int(self._clock() * 1000)
        raised: list[Alert] = []
        for tenant, rules in read_rules(self._store).items():
            for rule in rules:
                try:
                    raised.extend(self._rule(tenant, rule, now_ms))
                except Exception:
                    log.exception("threshold rule %s of %s failed", rule.rule, tenant)
        if raised:
            self._alerts.write(raised)
        return raised

    def _series(
        self, tenant: str, rule: ThresholdRule, start_ms: int, now_ms: int
    ) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
        answer = self._store.rows(
            Select(
                (rule.kind.value,),
                match(tenant=tenant, site=rule.site or None, device=rule.device or None),
                fields=(VALUE,),
                start_ms=start_ms,
                end_ms=now_ms + 1,
                group_by=(SITE, DEVICE, SENSOR),
            )
        )
        return {
            (s.tags[SITE], s.tags[DEVICE], s.tags[SENSOR]): [
                (int(t), float(v)) for t, v in s.values if v is not None
            ]
            for s in answer
        }

    def _rule(self, tenant: str, rule: ThresholdRule, now_ms: int) -> list[Alert]:
        duration_ms = int(rule.duration_min * 60_000)
        span = 2 * duration_ms + MS_PER_HOUR
        out = []
        for key, points in self._series(tenant, rule, now_ms - span, now_ms).items():
            for start, last, worst in self._followed_back(
                tenant, rule, key, points, now_ms=now_ms, span=span
            ):
                if last - start >= duration_ms:
                    out.append(rule_alert(tenant, key, rule, (start, last, worst)))
        return out

    def _followed_back(
        self,
        tenant: str,
        rule: ThresholdRule,
        key: tuple[str, str, str],
        points: list[tuple[int, float]],
        *,
        now_ms: int,
        span: int,
    ) -> list[tuple[int, int, float]]:
        """The episodes of one sensor, the first followed back to its start if it began before
        the window (the window doubles up to the longest look-back)."""
        found = episodes(rule, points)
        while found and points and found[0][0] == points[0][0] and span < self._max_lookback_ms:
            span = min(2 * span, self._max_lookback_ms)
            points = self._series(tenant, rule, now_ms - span, now_ms).get(key, points)
            found = episodes(rule, points)
        return found


def rule_alert(
    tenant: str, key: tuple[str, str, str], rule: ThresholdRule, episode: tuple[int, int, float]
) -> Alert:
    """The alert of an episode that lasted the rule's duration (key: site, device, sensor)."""
    site, device, sensor = key
    start, last, worst = episode
    unit = rule.kind.unit.value
    hours = (last - start) / MS_PER_HOUR
    reason = (
        f"rule {rule.rule} ({rule.name}): {rule.kind.value} {rule.comparison.value} "
        f"{rule.threshold:g} {unit} for {hours:.1f} h (worst {worst:g} {unit})"
    )
    side = "を下回る" if rule.comparison.value == "below" else "を上回る"
    reason_ja = (
        f"ルール「{rule.name}」: {KIND_JA.get(rule.kind.value, rule.kind.value)}が "
        f"{rule.threshold:g} {unit} {side}状態が {hours:.1f} 時間続いています"
        f"（最も外れた値 {worst:g} {unit}）"
    )
    return Alert(
        tenant,
        site,
        device,
        sensor,
        AlertKind.THRESHOLD,
        start + int(rule.duration_min * 60_000),
        1.0,
        reason,
        last,
        reason_ja=reason_ja,
    )


def run_thresholds(watch: ThresholdWatch, stop: threading.Event, every_s: float) -> None:
    """Evaluate the rules every `every_s` until `stop` is set; a failed pass is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("threshold rules failed; trying again")
        stop.wait(every_s)

"""Per-bin alert state: pairs weight and count readings, feeds the detectors, folds episodes.

A bin's load cell and item counter report separately; its detectors (`BinDetectors`, e.g. the
stock ones in models.stock.alerts) need both at the same instant. Readings wait here until
their partner (same timestamp) arrives, and pairs are fed strictly in time order: a half whose
partner has not come by the time a later pair is complete can never be fed in order, so it is
dropped and counted. Each reading carries a `holder` (the message it came in) that is released
once the reading is used or dropped, so the service acknowledges a message only after every
reading in it has been dealt with.

A bin found by the naming rule, or registered with a count sensor, whose counter has not sent
one reading (not in the stored history either) is watched on its weight alone once its first
weights have waited their time for a partner, instead of dropping every weight as unpaired;
the first count reading turns pairing back on.

Alerts are folded into episodes: further evidence of the same kind on the same bin within
`episode_gap_ms` (reading time) of the previous evidence updates the open alert's `last_seen`
instead of raising a new one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

from alerting.bins import BinRef, Channel
from core.time import MS_PER_HOUR
from storage.alert_types import Alert, AlertKind

H = TypeVar("H")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectOptions:
    """How alerts are folded and how often the stock-out forecast runs."""

    episode_gap_ms: int = 6 * MS_PER_HOUR
    reorder_every_ms: int = MS_PER_HOUR
    forecast_window_days: float = 28.0
    # The forecast's weekday profile predicts no use on a weekday it has never seen: with less
    # than a week of weight history it would miss reorders, so it waits for a week.
    forecast_min_history_ms: int = 7 * 24 * MS_PER_HOUR
    # Halves waiting for their partner, per channel of a bin: bounds memory on a broken device.
    max_pending: int = 1_000


@dataclass(slots=True)
class Outcome(Generic[H]):
    """What offering readings to bins produced: alerts to store, holders done, counts."""

    writes: list[Alert] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)
    folded: list[Alert] = field(default_factory=list)
    released: list[H] = field(default_factory=list)
    pairs: int = 0
    unpaired: int = 0
    late: int = 0


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a detector found in one pair: an alert of `kind` on `sensor`, unless folded."""

    kind: AlertKind
    sensor: str
    score: float
    reason: str
    reason_ja: str = ""


class BinDetectors(Protocol):
    """The detectors of one bin, fed its weight and count pairs in time order."""

    def learn_weight(self, ts: int, weight: float) -> None:
        """Learn from a stored weight reading (warm start; no pair needed)."""

    def learn_pair(self, ts: int, weight: float, count: float) -> None:
        """Learn from a stored pair without alerting (warm start)."""

    def feed(
        self, ref: BinRef, ts: int, weight: float, count: float, temperature: float = math.nan
    ) -> list[Evidence]:
        """Learn from a live pair (NaN count: the bin has no counter; NaN temperature: the
        hall's is not known); the evidence it gives of alerts."""


@dataclass(slots=True)
class _Half(Generic[H]):
    """A reading waiting for its partner."""

    value: float
    holder: H
    arrived: float
    temperature: float = math.nan


class BinPairing(Generic[H]):
    """Everything the service remembers about one bin, around the bin's detectors."""

    def __init__(self, ref: BinRef, options: DetectOptions, detectors: BinDetectors) -> None:
        """Start empty; `warm` replays stored history before live readings arrive."""
        self.ref = ref
        self._options = options
        self._detectors = detectors
        self._pending: dict[Channel, dict[int, _Half[H]]] = {c: {} for c in Channel}
        self._last_ts: int | None = None
        # Whether the counter has sent anything, and whether the bin is watched on its weight
        # alone because it has not (`counted` is then false until a count arrives).
        self._count_seen = False
        self._alone = False
        # The open alert of each kind; its last_seen_ms is when it was last confirmed.
        self._episodes: dict[AlertKind, Alert] = {}

    @property
    def last_ts(self) -> int | None:
        """Time of the newest pair fed to the detectors."""
        return self._last_ts

    @property
    def waiting(self) -> int:
        """Halves waiting for their partner."""
        return sum(len(p) for p in self._pending.values())

    def warm(
        self,
        weights: Iterable[tuple[int, float]],
        counts: Iterable[tuple[int, float]],
        stored: Iterable[Alert],
    ) -> int:
        """Learn from stored history without alerting, and reopen the stored episodes.

        Pairs train the pair detectors; every weight reading trains those that learn from weight
        alone, whose history may reach further back than the counts given. Returns the pairs
        replayed.
        """
        by_ts = dict(counts)
        self._count_seen = self._count_seen or bool(by_ts)
        counted = self.counted
        replayed = 0
        for ts, weight in sorted(weights):
            if self._last_ts is not None and ts <= self._last_ts:
                continue
            self._detectors.learn_weight(ts, weight)
            count = by_ts.get(ts) if counted else math.nan
            if count is not None:
                self._detectors.learn_pair(ts, weight, count)
                self._last_ts = ts
                replayed += 1
        for alert in sorted(stored, key=lambda a: a.ts_ms):
            self._episodes[alert.kind] = alert
        return replayed

    @property
    def counted(self) -> bool:
        """Whether the bin's weights are paired with counts: it names a counter (a registered
        bin may name none) that has not stayed silent from the start."""
        return bool(self.ref.count_sensor) and not self._alone

    def offer(
        self,
        channel: Channel,
        ts: int,
        value: float,
        holder: H,
        *,
        arrived: float,
        out: Outcome[H],
        temperature: float = math.nan,
    ) -> None:
        """Take one reading; pairs it, feeds complete pairs in time order, records the results.

        A bin without a counter has its weights fed as they come, each alone. `temperature` is
        the hall's (NaN: not known), given to the detectors with the pair this reading
        completes.
        """
        if channel is Channel.COUNT and not self._count_seen:
            self._count_seen = True
            if self._alone:
                self._alone = False
                log.info("bin %s sent its first count: pairing it again", self.ref.key)
        if self._last_ts is not None and ts <= self._last_ts:
            out.late += 1
            out.released.append(holder)
            return
        if not self.counted:
            out.released.append(holder)
            if channel is Channel.WEIGHT:
                self._feed(ts, value, math.nan, out, temperature)
            return
        own = self._pending[channel]
        other = self._pending[Channel.COUNT if channel is Channel.WEIGHT else Channel.WEIGHT]
        partner = other.pop(ts, None)
        if partner is None:
            if ts in own:
                out.released.append(holder)  # the same reading again (a resent message)
                return
            own[ts] = _Half(value, holder, arrived, temperature)
            if len(own) > self._options.max_pending:
                oldest = min(own)
                out.unpaired += 1
                out.released.append(own.pop(oldest).holder)
            return
        self._drop_before(ts, out)
        out.released += [holder, partner.holder]
        weight, count = (
            (value, partner.value) if channel is Channel.WEIGHT else (partner.value, value)
        )
        self._feed(ts, weight, count, out, temperature)

    def expire(self, arrived_before: float, out: Outcome[H]) -> None:
        """Drop halves that arrived before `arrived_before` and whose partner never came; a bin
        whose counter never sent anything has its waiting weights fed alone from now on."""
        weights = self._pending[Channel.WEIGHT]
        if (
            self.counted
            and not self._count_seen
            and any(half.arrived < arrived_before for half in weights.values())
        ):
            self._alone = True
            log.info("bin %s has sent no count: watching it on its weight alone", self.ref.key)
            for ts in sorted(weights):
                half = weights.pop(ts)
                out.released.append(half.holder)
                if self._last_ts is None or ts > self._last_ts:
                    self._feed(ts, half.value, math.nan, out, half.temperature)
        for pending in self._pending.values():
            for ts in [t for t, half in pending.items() if half.arrived < arrived_before]:
                out.unpaired += 1
                out.released.append(pending.pop(ts).holder)

    def _drop_before(self, ts: int, out: Outcome[H]) -> None:
        """Halves older than a complete pair can no longer be fed in order."""
        for pending in self._pending.values():
            for old in [t for t in pending if t < ts]:
                out.unpaired += 1
                out.released.append(pending.pop(old).holder)

    def _feed(
        self, ts: int, weight: float, count: float, out: Outcome[H], temperature: float
    ) -> None:
        """Run the detectors on one pair."""
        self._last_ts = ts
        out.pairs += 1
        for found in self._detectors.feed(self.ref, ts, weight, count, temperature):
            self._evidence(found, ts, out=out)

    def _evidence(self, found: Evidence, ts: int, *, out: Outcome[H]) -> None:
        """Raise a new alert, or fold the evidence into the open episode of its kind."""
        kind, score = found.kind, found.score
        score = min(1.0, max(0.0, score)) if math.isfinite(score) else 1.0
        episode = self._episodes.get(kind)
        if episode is not None and ts - episode.last_seen_ms <= self._options.episode_gap_ms:
            if ts > episode.last_seen_ms:
                episode = self._episodes[kind] = replace(episode, last_seen_ms=ts)
                out.writes.append(episode)
            out.folded.append(episode)
            return
        ref = self.ref
        alert = Alert(
            ref.tenant,
            ref.site,
            ref.device,
            found.sensor,
            kind,
            ts,
            score,
            found.reason,
            ts,
            reason_ja=found.reason_ja,
        )
        self._episodes[kind] = alert
        out.writes.append(alert)
        out.raised.append(alert)

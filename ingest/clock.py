"""Device clock correction: a Raspberry Pi has no real-time clock, so ingest checks send times."""

from __future__ import annotations

from collections.abc import Callable

from edge.protocol import Batch


class SkewCorrector:
    """Decides by how much to shift a batch's timestamps, remembering each device's last shift.

    A batch whose send time lies in the future of ingest's clock beyond the threshold, or that
    says its clock is unsynchronised and is off by more than the threshold, is shifted by the
    difference. A send time in the past is not corrected on its own: it cannot be told apart from
    a batch that waited in the broker. The shift found for a device is reused while it stays
    within the threshold, so that a redelivered batch lands on the same timestamps.
    """

    def __init__(self, threshold_ms: int, clock: Callable[[], float]) -> None:
        """`clock` returns seconds since the epoch (injected so tests control it)."""
        self._threshold_ms = threshold_ms
        self._clock = clock
        self._known: dict[tuple[str, str, str], int] = {}

    def shift_for(self, key: tuple[str, str, str], batch: Batch) -> int:
        """Milliseconds to add to every timestamp of `batch` from device `key`; 0 if none."""
        skew = int(self._clock() * 1000) - batch.sent_ms
        if skew >= -self._threshold_ms and (batch.clock_synced or skew <= self._threshold_ms):
            self._known.pop(key, None)
            return 0
        known = self._known.get(key)
        if known is not None and abs(known - skew) <= self._threshold_ms:
            return known
        self._known[key] = skew
        return skew

"""The agent's clock: a Raspberry Pi has no real-time clock, so it may run unsynchronised.

Readings are stamped from the monotonic clock, anchored to the wall clock once: at start and
again when synchronisation appears. A wall-clock step (NTP setting the time after boot, or an
operator running `date`) therefore never makes timestamps jump backwards or repeat. While the
clock is unsynchronised the agent says so in every batch (`"clock": "unsynced"`) together with
its send time in the same frame, so that ingest can shift the readings by the skew it sees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

# The release's build date: a wall clock before it has certainly not been set.
BUILD_DATE_MS = 1_764_115_200_000  # 2025-11-26 00:00 UTC
# From <sys/timex.h>: the kernel's "clock not synchronised" status bit and state.
STA_UNSYNC = 0x0040
TIME_ERROR = 5
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")

Probe = Callable[[], bool | None]


class ClockState(StrEnum):
    """Whether the wall clock has been set by NTP, GPS or an operator."""

    SYNCED = "synced"
    UNSYNCED = "unsynced"


class ClockSource(StrEnum):
    """How the agent finds out whether the clock is synchronised."""

    AUTO = "auto"
    ADJTIMEX = "adjtimex"
    TIMESYNCD = "timesyncd"
    BUILD_DATE = "build_date"
    ASSUME_SYNCED = "assume_synced"


class _Timex(ctypes.Structure):
    """The head of Linux's `struct timex`; ctypes computes the padding for 32 and 64 bits."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        # The rest of the structure (timeval, PPS counters, reserved words), never read.
        ("_tail", ctypes.c_byte * 256),
    )


@functools.cache
def _adjtimex() -> Callable[..., int] | None:
    """libc's adjtimex, looked up once (find_library may run ldconfig)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).adjtimex  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def adjtimex_probe() -> bool | None:
    """The kernel's view (read-only `adjtimex`): True if synced, None if unavailable."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return None
    timex = _Timex()  # modes = 0: read, change nothing
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    return state != TIME_ERROR and not timex.status & STA_UNSYNC


def timesyncd_probe(flag: Path = TIMESYNCD_FLAG) -> bool | None:
    """systemd-timesyncd creates a flag file once it has set the clock; None without it."""
    if not flag.parent.exists():
        return None
    return flag.exists()


def build_date_probe(wall: Callable[[], float] = time.time) -> Probe:
    """A probe that calls a clock before the build date unsynchronised (weak: only a floor)."""
    return lambda: wall() * 1000 >= BUILD_DATE_MS


def make_probe(source: ClockSource, wall: Callable[[], float] = time.time) -> Probe:
    """The probe for `source`; AUTO tries the kernel, then timesyncd, then the build date."""
    floor = build_date_probe(wall)
    chains: dict[ClockSource, tuple[Probe, ...]] = {
        ClockSource.AUTO: (adjtimex_probe, timesyncd_probe, floor),
        ClockSource.ADJTIMEX: (adjtimex_probe, floor),
        ClockSource.TIMESYNCD: (timesyncd_probe, floor),
        ClockSource.BUILD_DATE: (floor,),
        ClockSource.ASSUME_SYNCED: (lambda: True,),
    }
    probes = chains[source]

    def probe() -> bool:
        """The first probe that has an answer; never synced before the build date."""
        if source is not ClockSource.ASSUME_SYNCED and not floor():
            return False
        for candidate in probes:
            answer = candidate()
            if answer is not None:
                return answer
        return False

    return probe


SyncCallback = Callable[[int], None]


class AgentClock:
    """Monotonic timestamps anchored to the wall clock; re-anchored when sync appears."""

    def __init__(
        self,
        probe: Probe,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        check_every_s: float = 10.0,
    ) -> None:
        """`probe` says whether the wall clock is synced; `wall`/`mono` are injectable clocks."""
        self._probe = probe
        self._wall = wall
        self._mono = mono
        self._check_every_s = check_every_s
        self._lock = threading.Lock()
        self._anchor_wall_ms = int(wall() * 1000)
        self._anchor_mono = mono()
        self._synced = bool(probe())
        self._next_check = self._anchor_mono + check_every_s
        self._on_sync: list[SyncCallback] = []

    @property
    def state(self) -> ClockState:
        """Whether timestamps are in true UTC."""
        return ClockState.SYNCED if self._synced else ClockState.UNSYNCED

    @property
    def synced(self) -> bool:
        """True once the wall clock was synchronised when the anchor was taken."""
        return self._synced

    def on_sync(self, callback: SyncCallback) -> None:
        """Call `callback(offset_ms)` when sync appears: add offset_ms to unsynced timestamps."""
        self._on_sync.append(callback)

    def mono(self) -> float:
        """Monotonic seconds (for scheduling)."""
        return self._mono()

    def stamp(self, mono_s: float) -> int:
        """Milliseconds since the epoch for the monotonic instant `mono_s`, in the current frame."""
        return self._anchor_wall_ms + round((mono_s - self._anchor_mono) * 1000)

    def stamp_checked(self, mono_s: float) -> tuple[int, bool]:
        """`stamp(mono_s)` and whether it is in true UTC, consistent with each other."""
        if not self._synced and self._mono() >= self._next_check:
            self.check()
        with self._lock:
            return self.stamp(mono_s), self._synced

    def now_ms(self) -> int:
        """The current time in the current frame (checks for sync at most every few seconds)."""
        now = self._mono()
        if not self._synced and now >= self._next_check:
            self.check(now)
        return self.stamp(now)

    def check(self, now: float | None = None) -> bool:
        """Ask the probe now; on the first sync re-anchor and tell the listeners the offset."""
        now = self._mono() if now is None else now
        with self._lock:
            self._next_check = now + self._check_every_s
            if self._synced or not self._probe():
                return self._synced
            wall_ms = int(self._wall() * 1000)
            offset_ms = wall_ms - self.stamp(now)
            self._anchor_wall_ms, self._anchor_mono = wall_ms, now
            self._synced = True
        for callback in self._on_sync:
            callback(offset_ms)
        return True

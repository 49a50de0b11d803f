"""The agent's clock (sync detection, monotonic stamps) and the uplink's timing helpers."""

from __future__ import annotations

import ctypes
import random
import sqlite3
import threading
import time
from pathlib import Path

from edge.agent import Agent
from edge.clock import (
    BUILD_DATE_MS,
    AgentClock,
    ClockSource,
    ClockState,
    _Timex,
    adjtimex_probe,
    make_probe,
    timesyncd_probe,
)
from edge.config import load_config
from edge.spool import SYNCED_FRAME
from edge.uplink import Backoff, Pacer
from shinshu.localservices import free_port


class FakeClocks:
    """A wall clock and a monotonic clock that tests move by hand."""

    def __init__(self, wall: float, mono: float = 100.0) -> None:
        """Start at `wall` seconds since the epoch."""
        self.wall_s = wall
        self.mono_s = mono

    def wall(self) -> float:
        """Wall seconds."""
        return self.wall_s

    def mono(self) -> float:
        """Monotonic seconds."""
        return self.mono_s

    def advance(self, seconds: float) -> None:
        """Both clocks move on together."""
        self.wall_s += seconds
        self.mono_s += seconds


def test_timex_status_field_sits_after_four_longs() -> None:
    """The hand-written struct matches Linux's layout on 32- and 64-bit."""
    long = ctypes.sizeof(ctypes.c_long)
    assert _Timex.status.offset == max(4, long) + 4 * long


def test_adjtimex_probe_answers_on_linux() -> None:
    """Reading the kernel's state needs no privileges: a yes or no, not 'unavailable'."""
    assert adjtimex_probe() in (True, False)


def test_timesyncd_flag(tmp_path: Path) -> None:
    """No timesyncd folder: no answer; the flag file: synced; folder without it: not synced."""
    flag = tmp_path / "timesync" / "synchronized"
    assert timesyncd_probe(flag) is None
    flag.parent.mkdir()
    assert timesyncd_probe(flag) is False
    flag.touch()
    assert timesyncd_probe(flag) is True


def test_a_clock_before_the_build_date_is_never_synced() -> None:
    """Whatever the kernel says, 1970 (a Pi booted without network) is not a valid time."""
    early = FakeClocks(wall=0.0)
    late = FakeClocks(wall=BUILD_DATE_MS / 1000 + 86_400)
    assert make_probe(ClockSource.BUILD_DATE, early.wall)() is False
    assert make_probe(ClockSource.BUILD_DATE, late.wall)() is True
    assert make_probe(ClockSource.AUTO, early.wall)() is False
    assert make_probe(ClockSource.ASSUME_SYNCED, early.wall)() is True


def test_stamps_follow_the_monotonic_clock_not_wall_steps() -> None:
    """A wall-clock step backwards does not make timestamps go backwards."""
    clocks = FakeClocks(wall=1_800_000_000.0)
    clock = AgentClock(lambda: True, wall=clocks.wall, mono=clocks.mono)
    first = clock.now_ms()
    clocks.mono_s += 1.0
    clocks.wall_s -= 3600.0
    assert clock.now_ms() == first + 1000
    assert clock.stamp(clocks.mono_s + 0.25) == first + 1250


def test_sync_reanchors_and_reports_the_offset() -> None:
    """Unsynced at boot (wall 1970); when NTP sets the clock, the offset goes to listeners."""
    clocks = FakeClocks(wall=10.0)
    synced = [False]
    offsets: list[int] = []
    clock = AgentClock(lambda: synced[0], wall=clocks.wall, mono=clocks.mono, check_every_s=5.0)
    clock.on_sync(offsets.append)
    assert clock.state is ClockState.UNSYNCED
    before = clock.now_ms()
    clocks.advance(2.0)
    clocks.wall_s = 1_800_000_000.0  # NTP steps the wall clock
    synced[0] = True
    assert clock.now_ms() == before + 2000  # not checked yet: at most every 5 s
    clocks.advance(4.0)
    now = clock.now_ms()
    assert clock.state is ClockState.SYNCED
    assert now == 1_800_000_004_000
    assert offsets == [1_800_000_004_000 - (before + 6000)]
    # A reading stamped in the old frame plus the offset lands in true time.
    assert before + 6000 + offsets[0] == now


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    """Delays double (each within [d/2, d]), stop growing at the cap, reset after success."""
    backoff = Backoff(1.0, 60.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(10)]
    for attempt, delay in enumerate(delays):
        ceiling = min(60.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 60.0
    assert len({round(d, 6) for d in delays[7:]}) == 3  # jitter: capped delays still differ
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_pacer_spaces_events_at_the_rate() -> None:
    """Twenty events per second: one every 50 ms, no burst after an idle spell beyond one."""
    now = [0.0]
    pacer = Pacer(20.0, lambda: now[0])
    assert pacer.wait_s() == 0.0
    pacer.take()
    assert abs(pacer.wait_s() - 0.05) < 1e-9
    now[0] = 10.0
    pacer.take()
    assert abs(pacer.wait_s() - 0.05) < 1e-9


def test_agent_moves_unsynced_readings_to_utc_when_sync_appears(tmp_path: Path) -> None:
    """Boot in 1970 without network; NTP sets the clock: every spooled reading ends up in UTC."""
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        f'device = "pi"\nmqtt_url = "mqtt://127.0.0.1:{free_port()}"\n'
        f'data_dir = "{tmp_path / "data"}"\nbackoff_base_s = 5\n'
        '[[sensors]]\nname = "air"\ndriver = "simulated"\nkind = "air_temperature"\n'
        "interval_s = 0.01\n"
    )
    config = load_config(config_file, env={})
    wall = [60.0]  # one minute after the epoch: the Pi's idea of time at boot
    synced = [False]
    clock = AgentClock(lambda: synced[0], wall=lambda: wall[0], check_every_s=0.05)
    agent = Agent(config, clock=clock)
    runner = threading.Thread(target=agent.run)
    runner.start()
    time.sleep(0.5)
    wall[0], synced[0] = 1_800_000_000.0, True
    time.sleep(0.5)
    agent.stop.set()
    runner.join(30)
    assert not runner.is_alive()
    db = sqlite3.connect(config.data_path / "spool.sqlite3")
    rows = db.execute("SELECT ts, frame FROM readings ORDER BY id").fetchall()
    assert len(rows) > 50
    assert {frame for _, frame in rows} == {SYNCED_FRAME}
    stamps = [ts for ts, _ in rows]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    assert 1_800_000_000_000 - 2_000 < stamps[0] < stamps[-1] < 1_800_000_002_000

"""Simulated devices: the real edge agent, fed with a scenario's readings on accelerated time.

Each site of a scenario becomes one device running `edge.agent.Agent` unchanged, with its own
spool, uplink and MQTT session. Two things are injected through the agent's existing hooks:

- a clock (`DeviceClock`, an `AgentClock`): scheduling stays in real seconds (the sensors'
  intervals are the scenario step divided by the acceleration), while timestamps are simulated
  time, `accel` times faster than the wall clock, snapped to the scenario's sampling grid so
  that the agent stamps exactly the times the scenario has values for;
- drivers (`ScenarioSensor`): a sensor reads the scenario's value at the (true) time it is
  asked for, so the live data equal the backfill of the same seed.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.agent import Agent
from edge.clock import AgentClock
from edge.config import AgentConfig, DriverKind, SensorConfig
from edge.drivers.base import Driver
from edge.protocol import SensorKind
from edge.spool import SpoolError
from simulators.common import SensorSeries
from simulators.faults import Fault, FaultKind
from simulators.scenario import SiteData

log = logging.getLogger(__name__)

# How long an agent may take to stop before we give up waiting (it keeps its spool either way).
STOP_TIMEOUT_S = 30.0


class SimClock:
    """Simulated time: `start_ms` at the real monotonic instant `t0`, then `accel` times faster."""

    def __init__(
        self,
        start_ms: int,
        accel: float,
        *,
        lead_s: float = 0.0,
        until_ms: float = math.inf,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        """Simulated time starts `lead_s` real seconds from now and stops at `until_ms`.

        Stopping matters: while spools drain after the window, time running on at `accel`
        would soon put send times in the future of ingest's clock, which then shifts them.
        """
        if not accel > 0:
            raise ValueError("the acceleration factor must be positive")
        self.start_ms = start_ms
        self.accel = accel
        self.until_ms = until_ms
        self.mono = mono
        self.t0 = mono() + lead_s

    def now_ms(self, mono_s: float | None = None) -> float:
        """Simulated ms since the epoch at the real instant `mono_s` (default: now)."""
        real = self.mono() if mono_s is None else mono_s
        return min(self.start_ms + (real - self.t0) * self.accel * 1000.0, self.until_ms)

    def real_delay_s(self, sim_ms: float) -> float:
        """Real seconds from now until simulated time reaches `sim_ms` (negative if past)."""
        return (sim_ms - self.now_ms()) / (self.accel * 1000.0)


class DeviceClock(AgentClock):
    """An always-synced agent clock on simulated time, with the device's scheduled skews."""

    def __init__(self, sim: SimClock, step_ms: int, skews: Sequence[Fault] = ()) -> None:
        """`skews` are the device's clock-skew faults (offset_ms over [start, end))."""
        super().__init__(lambda: True, wall=time.time, mono=sim.mono)
        self.sim = sim
        self.step_ms = step_ms
        self.skews = tuple(skews)
        self._issued = -(2**62)

    def slot_ms(self, mono_s: float) -> int:
        """The grid time of the sampling slot the real instant `mono_s` falls in."""
        elapsed = (mono_s - self.sim.t0) * self.sim.accel * 1000.0
        return self.sim.start_ms + math.floor(elapsed / self.step_ms) * self.step_ms

    def offset_at(self, true_ms: float) -> int:
        """How far off the device clock is at true time `true_ms`."""
        for skew in self.skews:
            if skew.start_ms <= true_ms < skew.end_ms:
                return skew.offset_ms
        return 0

    def stamp(self, mono_s: float) -> int:
        """The device's timestamp for a reading due at `mono_s`: its slot, plus any skew."""
        true_ms = self.slot_ms(mono_s)
        stamped = true_ms + self.offset_at(true_ms)
        if true_ms < self.sim.until_ms:  # later slots carry no reading
            with self._lock:
                self._issued = max(self._issued, stamped)
        return stamped

    def stamp_checked(self, mono_s: float) -> tuple[int, bool]:
        """`stamp(mono_s)`; the device always believes its clock is synced."""
        return self.stamp(mono_s), True

    def now_ms(self) -> int:
        """The device's idea of now; never behind a timestamp it already gave out.

        A clock stepped backwards would otherwise send readings "from the future" of the
        batch's send time, which ingest refuses.
        """
        exact = int(self.sim.now_ms())
        with self._lock:
            return max(exact + self.offset_at(exact), self._issued)

    def check(self, now: float | None = None) -> bool:
        """Nothing to check: simulated devices are synced."""
        return True

    def true_ms(self, stamped: int) -> int | None:
        """The grid time a stamped timestamp was taken at, or None if it is not one."""
        for offset in {0, *(skew.offset_ms for skew in self.skews)}:
            candidate = stamped - offset
            on_grid = (candidate - self.sim.start_ms) % self.step_ms == 0
            if on_grid and self.offset_at(candidate) == offset:
                return candidate
        return None


class ScenarioSensor(Driver):
    """A sensor that reports the scenario's value for its channel at the time it is read."""

    def __init__(self, device: SimulatedDevice, name: str, kind: SensorKind) -> None:
        """One channel (`name`, `kind`) of `device`."""
        self.kinds = (kind,)
        self._device = device
        self._name = name

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """The scenario value, or nothing outside the window or while the device is down."""
        value = self._device.value(self._name, ts_ms)
        return {} if value is None else {self.kinds[0]: value}


@dataclass(eq=False)
class SimulatedDevice:
    """One site's device: its agent (restartable on the same spool), readings and faults."""

    data: SiteData
    config: AgentConfig
    clock: DeviceClock
    end_ms: int
    reboots: tuple[Fault, ...] = ()
    thefts: tuple[Fault, ...] = ()
    sampled: int = 0
    agent: Agent | None = None
    _thread: threading.Thread | None = None
    _series: dict[str, SensorSeries] = field(default_factory=dict)
    _first_after: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _backlog: int = 0

    def __post_init__(self) -> None:
        """Index the series by sensor name."""
        self._series = {s.sensor: s for s in self.data.series}

    @property
    def name(self) -> str:
        """site/device, for messages."""
        return f"{self.data.site}/{self.data.device}"

    def value(self, sensor: str, stamped: int) -> float | None:
        """The value `sensor` reads at the stamped time `stamped`, or None for no reading."""
        true_ms = self.clock.true_ms(stamped)
        series = self._series[sensor]
        if true_ms is None or not self.clock.sim.start_ms <= true_ms < self.end_ms:
            return None
        if any(reboot.covers(true_ms) for reboot in self.reboots):
            return None  # the device is off; after a reboot, sampling resumes at its end
        if not len(series.ts_ms):
            return None
        # The series may begin before the live run (history backfilled into the store).
        index = (true_ms - int(series.ts_ms[0])) // self.clock.step_ms
        if not 0 <= index < len(series.ts_ms) or int(series.ts_ms[index]) != true_ms:
            return None
        with self._lock:
            self.sampled += 1
            if sensor not in self._first_after:
                self._first_after[sensor] = true_ms
        value = float(series.values[index])
        stolen = self._stolen_kg(sensor, true_ms)
        # What was stolen is gone from the bin; its load cell never reads below empty.
        return max(0.0, value - stolen) if stolen else value

    def stolen(self, theft: Fault) -> float:
        """Kilograms a theft takes: its fraction of the bin's weight just before it."""
        series = self._series[f"{theft.bin}_weight"]
        before = int(np.searchsorted(series.ts_ms, theft.start_ms, side="right")) - 1
        return theft.fraction * float(series.values[max(before, 0)])

    def _stolen_kg(self, sensor: str, true_ms: int) -> float:
        """What thefts before `true_ms` took from this weight sensor's bin (0 for others)."""
        return sum(
            self.stolen(t)
            for t in self.thefts
            if sensor == f"{t.bin}_weight" and t.start_ms <= true_ms
        )

    def start(self) -> None:
        """Start (or restart) the agent on the device's spool."""
        self.config.data_path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._first_after = {}
        self.agent = Agent(self.config, clock=self.clock, driver_factory=self._driver)
        self._thread = threading.Thread(
            target=self.agent.run, name=f"agent-{self.data.device}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the agent as on a SIGTERM; whatever is not acknowledged stays in its spool."""
        if self.agent is None or self._thread is None:
            return
        self._backlog = self.backlog()
        self.agent.stop.set()
        # Agent.run() does not wake its uplink; an idle uplink would otherwise notice the stop
        # only at its next status message, after run() gave up waiting and closed the spool.
        self.agent.uplink.request_status()
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("agent %s did not stop within %.0f s", self.name, STOP_TIMEOUT_S)
        self.agent = None
        self._thread = None

    def first_readings_since_start(self) -> dict[str, int]:
        """The first true time each sensor reported since the agent last started."""
        with self._lock:
            return dict(self._first_after)

    def backlog(self) -> int:
        """Readings in the spool, not yet acknowledged by the broker (last known when stopped)."""
        agent = self.agent
        if agent is None:
            return self._backlog
        try:
            return agent.spool.stats().readings
        except (SpoolError, sqlite3.Error):  # the spool closes under us while the agent stops
            return self._backlog

    def _driver(self, sensor: SensorConfig) -> Driver:
        """The agent's driver factory: one scenario channel per configured sensor."""
        return ScenarioSensor(self, sensor.name, sensor.kinds[0])


def sensor_configs(data: SiteData, interval_s: float) -> tuple[SensorConfig, ...]:
    """The agent's sensors for a site: one per scenario channel, all on the same interval."""
    return tuple(
        SensorConfig(
            name=series.sensor,
            driver=DriverKind.SIMULATED,
            kinds=(series.kind,),
            interval_s=interval_s,
        )
        for series in data.series
    )


def faults_of(faults: Sequence[Fault], site: str, kind: FaultKind) -> tuple[Fault, ...]:
    """The faults of one kind at one site."""
    return tuple(f for f in faults if f.site == site and f.kind is kind)

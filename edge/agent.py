"""The edge agent: sensors sample on their own schedules into the spool; the uplink drains it.

Threads: one per sensor (a slow or failing sensor never holds up the others), one writer that
commits sampled readings to the spool in small transactions, and the uplink. Paho's network
thread delivers remote configuration, which is validated and swapped in atomically.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from edge.clock import AgentClock, make_probe
from edge.config import AgentConfig, ConfigError, SensorConfig, apply_remote, parse_remote
from edge.drivers import Driver, DriverError, make_driver
from edge.protocol import Reading
from edge.spool import SYNCED_FRAME, Spool, SpoolError
from edge.status import AgentState, ConfigState, ConfigStatus, Health, status_document
from edge.uplink import Uplink

log = logging.getLogger(__name__)

DriverFactory = Callable[[SensorConfig], Driver]
# A sensor that fell further behind than this skips the missed slots instead of catching up.
MAX_CATCH_UP_S = 1.0
# Readings held in memory between the sensors and the spool writer.
QUEUE_LIMIT = 100_000
# Put on the writer's queue after the last sampler stopped.
_DONE = (-1, [])


class Agent:
    """A running agent; `run()` blocks until `stop` is set."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: AgentClock | None = None,
        driver_factory: DriverFactory = make_driver,
        stop: threading.Event | None = None,
    ) -> None:
        """Open the spool and prepare (not start) every thread."""
        self.config = config
        self.stop = stop or threading.Event()
        self.clock = clock or AgentClock(make_probe(config.clock_source))
        self.spool = Spool(config.data_path / "spool.sqlite3", config.spool_max_bytes)
        self._driver_factory = driver_factory
        self._file_sensors = config.sensors
        self._sensors = {sensor.name: sensor for sensor in config.sensors}
        self._wakes = {sensor.name: threading.Event() for sensor in config.sensors}
        self.health = Health([sensor.name for sensor in config.sensors])
        self._queue: queue.Queue[tuple[int, list[Reading]]] = queue.Queue(QUEUE_LIMIT)
        # Frame 0 is true UTC; an agent that starts unsynchronised stamps in a frame of its own.
        self._run_frame = SYNCED_FRAME if self.clock.synced else self.spool.next_frame()
        self.clock.on_sync(self._synced)
        self._journal: int | None = None
        self._writer_done = threading.Event()
        self.uplink = Uplink(
            config,
            self.spool,
            self.clock,
            health=self.health,
            status=self._status,
            on_config=self._remote_config,
            stop=self.stop,
            current_frame=self._current_frame,
            writer_done=self._writer_done,
        )

    def run(self) -> None:
        """Start sampling and publishing; on stop, spool what was sampled and say offline."""
        if self.config.journal is not None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            self._journal = os.open(self.config.journal, flags, 0o644)
        samplers = [
            threading.Thread(target=self._sample, args=(name,), name=f"sensor-{name}", daemon=True)
            for name in self._sensors
        ]
        writer = threading.Thread(target=self._write, name="spool-writer", daemon=True)
        uplink = threading.Thread(target=self.uplink.run, name="uplink", daemon=True)
        for thread in (*samplers, writer, uplink):
            thread.start()
        log.info(
            "agent %s/%s/%s: %d sensors, clock %s",
            self.config.tenant,
            self.config.site,
            self.config.device,
            len(samplers),
            self.clock.state.value,
        )
        self.stop.wait()
        for wake in self._wakes.values():
            wake.set()
        for thread in samplers:
            thread.join(timeout=10)
        self._queue.put(_DONE)
        writer.join(timeout=10)
        self._writer_done.set()
        # The uplink sleeps until the next reading or status is due, which may be a minute
        # away: wake it now so it drains and says goodbye before the spool closes.
        self.uplink.wake()
        uplink.join(timeout=self.config.shutdown_grace_s + 15)
        self.spool.close()
        if self._journal is not None:
            os.close(self._journal)

    def _current_frame(self) -> int:
        """The frame readings are stamped in now."""
        return SYNCED_FRAME if self.clock.synced else self._run_frame

    def _synced(self, offset_ms: int) -> None:
        """The clock got synchronised: move this run's unsent readings into true UTC."""
        moved = self.spool.rebase(self._run_frame, offset_ms)
        log.info(
            "clock synchronised (offset %d ms); %d spooled readings corrected", offset_ms, moved
        )

    def _sample(self, name: str) -> None:
        """One sensor's loop: read on its interval, report failures, retry next interval."""
        wake, clock = self._wakes[name], self.clock
        driver: Driver | None = None
        due = clock.mono()
        while not self.stop.is_set():
            sensor = self._sensors[name]
            now = clock.mono()
            if not sensor.enabled:
                wake.wait()
                wake.clear()
                due = clock.mono()
                continue
            if due > now:
                if wake.wait(due - now):
                    wake.clear()
                    # A new interval applies from the last sample, at the latest one interval on.
                    due = min(due, now + self._sensors[name].interval_s)
                continue
            if now - due > MAX_CATCH_UP_S:
                due = now
            ts, synced = clock.stamp_checked(due)
            frame = SYNCED_FRAME if synced else self._run_frame
            due += sensor.interval_s
            try:
                if driver is None:
                    driver = self._driver_factory(sensor)
                values = driver.read(ts)
            except (DriverError, ConfigError) as exc:
                self.health.failed(name, ts, str(exc))
                continue
            except Exception as exc:  # a driver bug must not stop this sensor for good
                log.exception("sensor %s failed", name)
                self.health.failed(name, ts, f"{type(exc).__name__}: {exc}")
                if driver is not None:
                    driver.close()
                driver = None
                continue
            kinds = sensor.kinds or tuple(values)
            readings = [
                Reading(name, kind, ts, float(values[kind])) for kind in kinds if kind in values
            ]
            if not all(math.isfinite(reading.value) for reading in readings):
                # NaN cannot go on the wire; one such value must not poison a whole batch.
                self.health.failed(name, ts, f"non-finite value from the driver: {values}")
                continue
            self.health.ok(name, ts, len(readings))
            self._queue.put((frame, readings))
        if driver is not None:
            driver.close()

    def _write(self) -> None:
        """Commit sampled readings to the spool, a small group per transaction."""
        while True:
            first = self._queue.get()
            if first is _DONE:
                return
            items = [first]
            done = False
            while len(items) < 1000:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _DONE:
                    done = True
                    break
                items.append(item)
            by_frame: dict[int, list[Reading]] = {}
            for frame, readings in items:
                by_frame.setdefault(frame, []).extend(readings)
            for frame, readings in by_frame.items():
                self._commit(frame, readings)
            if done:
                return

    def _commit(self, frame: int, readings: list[Reading]) -> None:
        """Append to the spool, retrying until the disk takes it (readings are never let go)."""
        while True:
            try:
                dropped = self.spool.append(readings, frame)
                self.health.spool_error = None
                break
            except SpoolError as exc:
                self.health.spool_error = str(exc)
                log.error("%s; retrying", exc)
                if self.stop.wait(1.0) and self._queue.empty():
                    log.error("stopping with %d readings not spooled", len(readings))
                    return
        if dropped:
            log.warning("spool full: dropped the %d oldest readings", dropped)
        if self._journal is not None:
            # One write call per group: a kill never leaves half a line behind.
            lines = "".join(
                f"{r.sensor}\t{r.kind.value}\t{r.ts_ms}\t{r.value!r}\n" for r in readings
            )
            os.write(self._journal, lines.encode())
        self.uplink.notify(len(readings))

    def _status(self, state: AgentState) -> bytes:
        """The status payload now."""
        return status_document(
            device=self.config.device,
            state=state,
            now_ms=self.clock.now_ms(),
            clock=self.clock.state,
            spool=self.spool.stats(),
            spool_max_bytes=self.config.spool_max_bytes,
            sensors=tuple(self._sensors.values()),
            health=self.health,
        )

    def _remote_config(self, payload: bytes) -> None:
        """A retained `.../config` message: apply it, or refuse it and keep the config in force."""
        if not payload:
            # The retained config was cleared: back to the file's configuration.
            self._swap(self._file_sensors, ConfigStatus())
            return
        try:
            remote = parse_remote(payload, frozenset(self._sensors))
        except ConfigError as exc:
            log.warning("refused remote config: %s", exc)
            old = self.health.config
            self.health.config = ConfigStatus(ConfigState.REJECTED, old.rev, str(exc))
            self.uplink.request_status()
            return
        self._swap(
            apply_remote(self._file_sensors, remote), ConfigStatus(ConfigState.APPLIED, remote.rev)
        )
        log.info("applied remote config rev %d", remote.rev)

    def _swap(self, sensors: tuple[SensorConfig, ...], outcome: ConfigStatus) -> None:
        """Put a configuration in force and wake every sensor so it takes effect now."""
        self._sensors = {sensor.name: sensor for sensor in sensors}
        self.health.config = outcome
        for wake in self._wakes.values():
            wake.set()
        self.uplink.request_status()


def run_agent(config: AgentConfig, stop: threading.Event) -> None:
    """Run an agent with the real clock and drivers until `stop` is set."""
    config.data_path.mkdir(parents=True, exist_ok=True)
    Agent(config, stop=stop).run()


def journal_lines(path: Path) -> list[tuple[str, str, int, float]]:
    """Parse a journal written with `journal = "..."` (tests and benchmarks)."""
    rows = []
    for line in path.read_text().splitlines():
        sensor, kind, ts, value = line.split("\t")
        rows.append((sensor, kind, int(ts), float(value)))
    return rows

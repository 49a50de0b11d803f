"""Live simulation: a scenario's sites as edge agents publishing to the broker on accelerated time.

Every site runs the real agent (spool, uplink, publisher) with scenario-backed sensors (see
`simulators.devices`). Simulated time runs `accel` times faster than the wall clock; nothing
sleeps in simulated time. Faults from a schedule are applied when simulated time reaches them,
and recorded as they happened in `faults.csv`. At the end of the window the runner waits until
every spool is empty (everything confirmed stored), then stops the agents. Each device logs in
with its own broker account, issued by the platform's registry.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from core.errors import ShinshuError
from core.time import MS_PER_MINUTE
from edge.config import AgentConfig
from edge.credentials import write_secret_file
from edge.mqtt import MqttEndpoint, Publisher, close_client, connect, make_client
from edge.protocol import Channel, DeviceTopic
from simulators.accounts import SecretIssuer
from simulators.devices import (
    DeviceClock,
    SimClock,
    SimulatedDevice,
    faults_of,
    sensor_configs,
)
from simulators.faults import (
    Fault,
    FaultError,
    FaultKind,
    FaultRecord,
    check_schedule,
    malformed_payload,
)
from simulators.network import Relay
from simulators.scenario import Scenario, SiteData, Truth, simulate_sites

log = logging.getLogger(__name__)

# Real seconds allowed for thread latency around reboots and the end of the window.
MARGIN_S = 0.5
# Real seconds an agent may take to stop and start again, on top of the margins.
RESTART_BUDGET_S = 1.0
TICK_S = 0.01
# Real seconds to wait for a fault helper thread when the run ends.
STOP_JOIN_S = 40.0


class LiveError(ShinshuError, RuntimeError):
    """A live simulation cannot run as asked; the text says why."""


@dataclass(frozen=True, slots=True)
class LivePlan:
    """What to run: the scenario, how fast, as which tenant, with which faults, where to spool."""

    scenario: Scenario
    accel: float
    tenant: str
    data_dir: Path
    faults: tuple[Fault, ...] = ()
    drain_timeout_s: float = 120.0
    progress_every_s: float = 2.0
    # Run live from this simulated time (on the sampling grid); what comes before it is
    # history that the caller wrote to the store (see simulators.backfill). None: the start.
    begin_ms: int | None = None
    # mqtts://: the CA the agents trust for the broker's certificate.
    ca_file: Path | None = None

    def live_from_ms(self) -> int:
        """Simulated time at which the agents start sampling."""
        return self.scenario.start_ms if self.begin_ms is None else self.begin_ms

    def finish_ms(self) -> int:
        """Simulated time at which every reading of the window has been taken."""
        scenario = self.scenario
        margin_ms = round(MARGIN_S * self.accel * 1000)
        return scenario.start_ms + scenario.duration_ms + scenario.step_ms + margin_ms

    def min_reboot_ms(self) -> int:
        """The shortest reboot (simulated ms) the agent can do at this acceleration."""
        real_s = 2 * MARGIN_S + RESTART_BUDGET_S
        return self.scenario.step_ms + round(real_s * self.accel * 1000)


@dataclass(frozen=True, slots=True)
class LiveReport:
    """What a live run did."""

    sites: int
    sampled: int
    undelivered: int
    faults: tuple[FaultRecord, ...]
    seconds: float
    completed: bool


@dataclass
class _Runner:
    """The state of one live run (the main loop, fault actions and progress)."""

    plan: LivePlan
    clock: SimClock
    devices: dict[str, SimulatedDevice]
    relays: dict[str, Relay]
    stop: threading.Event
    progress: Callable[[str], None]
    mqtt_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    records: list[FaultRecord] = field(default_factory=list)
    workers: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, device: SimulatedDevice, fault: Fault, start: int, end: int, detail: str
    ) -> None:
        """Add a row to the fault truth."""
        row = FaultRecord(
            self.plan.tenant, device.data.site, device.data.device, fault.kind, start, end, detail
        )
        with self.lock:
            self.records.append(row)

    def actions(self) -> list[tuple[float, int, Callable[[], None]]]:
        """(simulated time, order, action) of every fault, to run when time comes."""
        out: list[tuple[float, int, Callable[[], None]]] = []
        for number, fault in enumerate(self.plan.faults):
            device = self.devices[fault.site]
            if fault.kind is FaultKind.OUTAGE:
                out.append((fault.start_ms, number, lambda f=fault, d=device: self.cut(f, d)))
            elif fault.kind is FaultKind.REBOOT:
                worker = threading.Thread(
                    target=self.reboot, args=(fault, device), name="reboot", daemon=True
                )
                self.workers.append(worker)
                out.append((fault.start_ms, number, worker.start))
            elif fault.kind is FaultKind.MALFORMED:
                out.append(
                    (
                        fault.start_ms,
                        number,
                        lambda f=fault, d=device, n=number: self.garbage(f, d, n),
                    )
                )
            elif fault.kind is FaultKind.THEFT:
                detail = f"bin={fault.bin}: {device.stolen(fault):.3f} kg ({fault.fraction:.0%})"
                self.record(device, fault, fault.start_ms, fault.end_ms, detail)
            else:
                detail = f"offset_s={fault.offset_ms / 1000:g}"
                self.record(device, fault, fault.start_ms, fault.end_ms, detail)
        return sorted(out, key=lambda item: (item[0], item[1]))

    def now(self) -> int:
        """Simulated time now, in whole ms."""
        return int(self.clock.now_ms())

    def cut(self, fault: Fault, device: SimulatedDevice) -> None:
        """Start an outage; a helper thread ends it."""
        relay = self.relays[device.data.site]
        relay.cut()
        began = self.now()

        def restore() -> None:
            """Wait for the end of the outage (or the run), bring the link back, record it."""
            self.stop.wait(max(0.0, self.clock.real_delay_s(fault.end_ms)))
            relay.restore()
            self.record(device, fault, began, self.now(), "broker unreachable")

        worker = threading.Thread(target=restore, name="outage", daemon=True)
        self.workers.append(worker)
        worker.start()

    def reboot(self, fault: Fault, device: SimulatedDevice) -> None:
        """Stop the agent once every reading before the reboot was taken, start it at the end."""
        margin_ms = MARGIN_S * self.clock.accel * 1000
        off_at = fault.start_ms + device.clock.step_ms + margin_ms
        if self.stop.wait(max(0.0, self.clock.real_delay_s(off_at))):
            return  # the run ended first: this reboot never happened
        device.stop()
        if self.stop.wait(max(0.0, self.clock.real_delay_s(fault.end_ms - margin_ms))):
            self.record(device, fault, fault.start_ms, self.now(), "run stopped during the reboot")
            return
        device.start()
        # Sampling resumes at the first grid time at or after the end, unless the restart was late.
        grid = device.clock.step_ms
        first_due = fault.end_ms + (-(fault.end_ms - self.clock.start_ms)) % grid
        self.stop.wait(max(0.0, self.clock.real_delay_s(first_due + grid + margin_ms)))
        firsts = device.first_readings_since_start().values()
        resumed = max(firsts, default=first_due)
        if resumed > first_due:
            log.warning(
                "%s restarted late: readings resume at %d, not %d", device.name, resumed, first_due
            )
            end, detail = resumed, "agent restarted on its spool (late)"
        else:
            end, detail = fault.end_ms, "agent restarted on its spool"
        self.record(device, fault, fault.start_ms, end, detail)

    def garbage(self, fault: Fault, device: SimulatedDevice, number: int) -> None:
        """Publish one malformed message on the device's up topic, as the device itself.

        Like faulty firmware, it logs in with the device's own account and client id, which
        briefly takes over the agent's session; the agent reconnects and carries on.
        """
        topic = DeviceTopic(self.plan.tenant, device.data.site, device.data.device).topic(
            Channel.UP
        )
        payload = malformed_payload(fault, device.data.device, number)
        client_id = device.config.client_id
        endpoint = MqttEndpoint.from_url(self.mqtt_url).with_login(
            client_id, self.secrets[device.data.site]
        )
        if endpoint.tls:
            endpoint = endpoint.with_tls_files(self.plan.ca_file)
        client = make_client(endpoint, client_id)
        publisher = Publisher(client, window=1)
        connect(client, endpoint, timeout=10.0)
        try:
            publisher.publish(topic, payload)
            publisher.flush(timeout=5.0)
        finally:
            close_client(client)
        at = self.now()
        self.record(
            device, fault, at, at, f"{fault.payload.value} #{number} ({len(payload)} bytes)"
        )

    def report_progress(self, began: float) -> None:
        """One line: simulated time, share of the window done, readings, backlog, faults."""
        scenario = self.plan.scenario
        begin, end = self.plan.live_from_ms(), scenario.start_ms + scenario.duration_ms
        now = min(max(self.now(), begin), end)
        done = max(0.0, (now - begin) / (end - begin))
        when = dt.datetime.fromtimestamp(now / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
        sampled = sum(d.sampled for d in self.devices.values())
        backlog = sum(d.backlog() for d in self.devices.values())
        self.progress(
            f"{when} UTC  {done:6.1%}  {sampled:,} readings taken, {backlog:,} in spools, "
            f"{len(self.records)}/{len(self.plan.faults)} faults, {time.monotonic() - began:.0f} s"
        )

    def drain(self, timeout_s: float) -> int:
        """Wait until every spool is empty (or the timeout); return what is left."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while time.monotonic() < deadline:
            left = sum(d.backlog() for d in self.devices.values())
            quiet = quiet + 1 if left == 0 else 0
            if quiet >= 3:
                return 0
            time.sleep(0.2)
        return sum(d.backlog() for d in self.devices.values())


def _device_url(mqtt_url: str, port: int) -> str:
    """The broker URL with host and port replaced by the relay's, credentials kept."""
    parts = urlsplit(mqtt_url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _build_devices(
    plan: LivePlan,
    sites: Sequence[SiteData],
    clock: SimClock,
    mqtt_url: str,
    secrets: dict[str, str],
) -> tuple[dict[str, SimulatedDevice], dict[str, Relay]]:
    """One SimulatedDevice per site; a relay in front of the broker for sites with outages."""
    scenario = plan.scenario
    endpoint = MqttEndpoint.from_url(mqtt_url)
    interval_s = scenario.step_ms / 1000 / plan.accel
    devices: dict[str, SimulatedDevice] = {}
    relays: dict[str, Relay] = {}
    for data in sites:
        url = mqtt_url
        if faults_of(plan.faults, data.site, FaultKind.OUTAGE):
            if endpoint.tls:
                raise LiveError("network outages are simulated on plain mqtt:// connections only")
            relays[data.site] = Relay(endpoint.host, endpoint.port).start()
            url = _device_url(mqtt_url, relays[data.site].port)
        folder = plan.data_dir / data.site / data.device
        secret_file = write_secret_file(folder / "mqtt.secret", secrets[data.site])
        config = AgentConfig(
            device=data.device,
            sensors=sensor_configs(data, interval_s),
            tenant=plan.tenant,
            site=data.site,
            mqtt_url=url,
            mqtt_password_file=secret_file,
            mqtt_ca_file=plan.ca_file,
            data_dir=folder,
            batch_linger_s=0.5,
            backoff_base_s=0.1,
            backoff_cap_s=1.0,
            status_interval_s=5.0,
            # Stopping is a reboot: unsent readings stay in the spool for the next start.
            shutdown_grace_s=0.0,
        )
        skews = faults_of(plan.faults, data.site, FaultKind.CLOCK_SKEW)
        thefts = faults_of(plan.faults, data.site, FaultKind.THEFT)
        sensors = {series.sensor for series in data.series}
        for theft in thefts:
            if f"{theft.bin}_weight" not in sensors:
                raise LiveError(f"theft at {data.site!r}: the site has no bin {theft.bin!r}")
        devices[data.site] = SimulatedDevice(
            data=data,
            config=config,
            clock=DeviceClock(clock, scenario.step_ms, skews),
            end_ms=scenario.start_ms + scenario.duration_ms,
            reboots=faults_of(plan.faults, data.site, FaultKind.REBOOT),
            thefts=thefts,
        )
    return devices, relays


def check_plan(plan: LivePlan, sites: Sequence[str]) -> None:
    """Refuse a plan the agent cannot follow at this acceleration."""
    scenario = plan.scenario
    interval_s = scenario.step_ms / 1000 / plan.accel
    if interval_s < 0.001:
        raise LiveError(
            f"--accel {plan.accel:g} would sample every {interval_s * 1000:.3f} ms of real time; "
            "use a smaller factor or a longer step"
        )
    end = scenario.start_ms + scenario.duration_ms
    begin = plan.live_from_ms()
    if not scenario.start_ms <= begin < end or (begin - scenario.start_ms) % scenario.step_ms:
        raise LiveError("the live part must begin on the sampling grid inside the window")
    try:
        check_schedule(plan.faults, sites, begin, end, scenario.step_ms)
    except FaultError as exc:
        raise LiveError(str(exc)) from exc
    shortest = plan.min_reboot_ms()
    for fault in plan.faults:
        lasts_ms = fault.end_ms - fault.start_ms
        if fault.kind is FaultKind.REBOOT and lasts_ms < shortest:
            raise LiveError(
                f"reboot of {fault.site!r} lasts {lasts_ms / MS_PER_MINUTE:g} min; "
                f"at --accel {plan.accel:g} a reboot needs at least {shortest / MS_PER_MINUTE:.1f} "
                "simulated minutes (stopping and starting the agent takes real time)"
            )


def run_live(
    plan: LivePlan,
    mqtt_url: str,
    truth: Truth,
    *,
    issue_secrets: SecretIssuer,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] = log.info,
) -> LiveReport:
    """Run the plan until its window is over and delivered, or until `stop` is set.

    Every simulated device gets its broker account from `issue_secrets`, as a real one would.
    """
    stop = stop or threading.Event()
    sites = list(simulate_sites(plan.scenario, truth))
    check_plan(plan, [s.site for s in sites])
    issued = issue_secrets([(plan.tenant, s.site, s.device) for s in sites])
    secrets = {s.site: issued[plan.tenant, s.site, s.device] for s in sites}
    # Simulated time starts once every agent is up, so no device misses the first readings.
    clock = SimClock(
        plan.live_from_ms(),
        plan.accel,
        lead_s=1.0 + 0.05 * len(sites),
        until_ms=plan.finish_ms(),
    )
    devices, relays = _build_devices(plan, sites, clock, mqtt_url, secrets)
    runner = _Runner(plan, clock, devices, relays, stop, progress, mqtt_url, secrets)
    began = time.monotonic()
    completed = False
    try:
        for device in devices.values():
            device.start()
        completed = _main_loop(runner, began)
        runner.report_progress(began)
        runner.drain(plan.drain_timeout_s if completed else 5.0)
    finally:
        stop.set()  # ends outage and reboot helpers that are still waiting
        for worker in runner.workers:
            if worker.is_alive():
                worker.join(STOP_JOIN_S)
        for relay in relays.values():
            relay.restore()
        for device in devices.values():
            device.stop()
        for relay in relays.values():
            relay.close()
    left = sum(d.backlog() for d in devices.values())
    if left:
        log.warning("%d readings were not delivered; they stay in %s", left, plan.data_dir)
    return LiveReport(
        sites=len(sites),
        sampled=sum(d.sampled for d in devices.values()),
        undelivered=left,
        faults=tuple(runner.records),
        seconds=time.monotonic() - began,
        completed=completed,
    )


def _main_loop(runner: _Runner, began: float) -> bool:
    """Apply faults as simulated time reaches them; True if the window ran to its end."""
    finish = runner.plan.finish_ms()
    pending = runner.actions()
    next_progress = time.monotonic()
    while not runner.stop.is_set():
        now = runner.clock.now_ms()
        while pending and pending[0][0] <= now:
            _, _, action = pending.pop(0)
            try:
                action()
            except Exception:  # one failed fault must not end the run
                log.exception("could not apply a fault")
        if time.monotonic() >= next_progress:
            runner.report_progress(began)
            next_progress = time.monotonic() + runner.plan.progress_every_s
        if now >= finish and not pending and not any(w.is_alive() for w in runner.workers):
            return True
        runner.stop.wait(TICK_S)
    return False

"""`shinshu simulate` in live mode: the plan from the command line, the run, the ground truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.time import MS_PER_MINUTE
from simulators.accounts import SecretIssuer
from simulators.faults import FaultError, generate, load_schedule, parse_duration_ms, write_faults
from simulators.live import MARGIN_S, LiveError, LivePlan, run_live
from simulators.scenario import Scenario, Truth, scenario_sites


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """The live-mode options of `shinshu simulate`."""

    farms: int
    forests: int
    factories: int
    accel: float
    duration: str
    step_minutes: int
    seed: int
    start: dt.date | None
    faults_file: Path | None
    fault_rate: float
    truth_dir: Path


def live_scenario(options: LiveOptions, now_ms: int) -> Scenario:
    """The scenario: from `--start` (midnight UTC), or ending now (never in the future)."""
    try:
        duration_ms = parse_duration_ms(options.duration)
    except FaultError as exc:
        raise LiveError(str(exc)) from exc
    step_ms = options.step_minutes * MS_PER_MINUTE
    # Simulated time runs a little past the window (see LivePlan.finish_ms); that too is past.
    tail_ms = step_ms + round(MARGIN_S * options.accel * 1000)
    if options.start is None:
        start_ms = (now_ms - duration_ms - tail_ms) // step_ms * step_ms
    else:
        midnight = dt.datetime.combine(options.start, dt.time(), dt.UTC)
        start_ms = int(midnight.timestamp() * 1000)
        if start_ms + duration_ms + tail_ms > now_ms:
            raise LiveError("the simulated window must end before now: ingest refuses the future")
    return Scenario(
        options.farms,
        options.forests,
        options.factories,
        start_ms,
        duration_ms,
        step_ms,
        options.seed,
    )


def build_plan(options: LiveOptions, tenant: str, data_dir: Path, now_ms: int) -> LivePlan:
    """The plan: scenario, and faults from the schedule file and/or generated from the seed."""
    scenario = live_scenario(options, now_ms)
    plan = LivePlan(scenario, options.accel, tenant, data_dir)
    faults = []
    try:
        if options.faults_file is not None:
            faults.extend(load_schedule(options.faults_file, scenario.start_ms))
        if options.fault_rate > 0:
            sites = scenario_sites(scenario).names()
            faults.extend(
                generate(
                    sites,
                    scenario.start_ms,
                    scenario.start_ms + scenario.duration_ms,
                    scenario.step_ms,
                    rate_per_day=options.fault_rate,
                    seed=scenario.seed,
                    min_reboot_ms=plan.min_reboot_ms(),
                )
            )
    except FaultError as exc:
        raise LiveError(str(exc)) from exc
    faults.sort(key=lambda f: (f.start_ms, f.site, f.kind.value))
    return LivePlan(scenario, options.accel, tenant, data_dir, tuple(faults))


def run_live_command(
    options: LiveOptions,
    *,
    mqtt_url: str,
    tenant: str,
    data_dir: Path,
    issue_secrets: SecretIssuer,
    ca_file: Path | None = None,
    stop: threading.Event,
    out: Callable[[str], None] = print,
) -> int:
    """Run a live simulation; 0 when everything was delivered, 130 if stopped, 1 otherwise."""
    run_dir = data_dir / "simulate" / f"run-{time.strftime('%Y%m%dT%H%M%S')}-seed{options.seed}"
    plan = dataclasses.replace(
        build_plan(options, tenant, run_dir, int(time.time() * 1000)), ca_file=ca_file
    )
    scenario = plan.scenario
    begin = dt.datetime.fromtimestamp(scenario.start_ms / 1000, dt.UTC)
    real_s = scenario.duration_ms / 1000 / plan.accel
    out(
        f"live: {scenario.farms} farms, {scenario.forests} forests, {scenario.factories} "
        f"factories from {begin:%Y-%m-%d %H:%M} UTC, {options.duration} simulated at "
        f"x{plan.accel:g} (about {real_s:.0f} s), {len(plan.faults)} faults; spools in {run_dir}"
    )
    truth = Truth()
    report = run_live(plan, mqtt_url, truth, issue_secrets=issue_secrets, stop=stop, progress=out)
    files = [*truth.write(options.truth_dir), write_faults(options.truth_dir, report.faults)]
    out(
        f"took {report.sampled:,} readings at {report.sites} sites in {report.seconds:.1f} s; "
        f"{len(report.faults)} faults applied; undelivered: {report.undelivered:,}; "
        f"ground truth: {', '.join(str(f) for f in files)}"
    )
    if not report.completed:
        return 130
    if report.undelivered:
        return 1
    # Every spool is empty: nothing in the run's folder is worth keeping.
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0

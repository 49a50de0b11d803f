"""Fault schedules, the simulated device clock and the network relay used by live simulation."""

from __future__ import annotations

import csv
import json
import socket
import threading
from pathlib import Path

import pytest

from simulators.devices import DeviceClock, SimClock
from simulators.faults import (
    RANDOM_KINDS,
    Fault,
    FaultError,
    FaultKind,
    FaultRecord,
    MalformedKind,
    check_schedule,
    generate,
    load_schedule,
    malformed_payload,
    parse_duration_ms,
    write_faults,
)
from simulators.network import Relay

START = 1_748_736_000_000  # 2025-06-01 00:00 UTC
DAY = 86_400_000
STEP = 600_000


class FakeMono:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at 100 s."""
        self.now = 100.0

    def __call__(self) -> float:
        """The current instant."""
        return self.now


def test_durations_and_schedule_files(tmp_path: Path) -> None:
    """TOML and JSON schedules give the same faults; relative and absolute times agree."""
    assert parse_duration_ms("90s") == 90_000
    assert parse_duration_ms("1.5h") == 5_400_000
    assert parse_duration_ms(30) == 30_000
    with pytest.raises(FaultError):
        parse_duration_ms("soon")
    toml = tmp_path / "f.toml"
    toml.write_text(
        '[[faults]]\nsite = "a"\nkind = "outage"\nstart = "+1h"\nduration = "30m"\n'
        '[[faults]]\nsite = "a"\nkind = "clock_skew"\nstart = 2025-06-01T03:00:00Z\n'
        'end = "2025-06-01T05:00:00Z"\noffset_s = -905\n'
        '[[faults]]\nsite = "b"\nkind = "malformed"\nstart = "+2h"\npayload = "truncated"\n'
        '[[faults]]\nsite = "b"\nkind = "theft"\nstart = "+4h"\nbin = "screws"\nfraction = 0.25\n'
    )
    doc = {
        "faults": [
            {"site": "b", "kind": "malformed", "start": "+2h", "payload": "truncated"},
            {"site": "a", "kind": "outage", "start": "2025-06-01T01:00:00", "end": "+90m"},
            {"site": "a", "kind": "clock_skew", "start": "+3h", "duration": "2h", "offset_s": -905},
            {"site": "b", "kind": "theft", "start": "+4h", "bin": "screws", "fraction": 0.25},
        ]
    }
    js = tmp_path / "f.json"
    js.write_text(json.dumps(doc))
    from_toml, from_json = load_schedule(toml, START), load_schedule(js, START)
    assert from_toml == from_json
    assert from_toml[0] == Fault("a", FaultKind.OUTAGE, START + 3_600_000, START + 5_400_000)
    assert from_toml[1].payload is MalformedKind.TRUNCATED
    assert from_toml[2].offset_ms == -905_000
    assert from_toml[3] == Fault(
        "b",
        FaultKind.THEFT,
        START + 4 * 3_600_000,
        START + 4 * 3_600_000,
        bin="screws",
        fraction=0.25,
    )
    check_schedule(from_toml, ["a", "b"], START, START + DAY, STEP)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"site": "a", "kind": "flood", "start": "+1h", "duration": "1h"}, "not one of"),
        ({"site": "a", "kind": "outage", "start": "+1h"}, "end` or `duration"),
        ({"site": "a", "kind": "clock_skew", "start": "+1h", "duration": "1h"}, "offset_s"),
        ({"site": "a", "kind": "outage", "start": "+1h", "duration": "1h", "x": 1}, "unknown"),
        ({"site": "a", "kind": "theft", "start": "+1h", "fraction": 0.2}, "`bin`"),
        ({"site": "a", "kind": "theft", "start": "+1h", "bin": "b"}, "`fraction`"),
        ({"site": "a", "kind": "theft", "start": "+1h", "bin": "b", "fraction": 1.5}, "between"),
    ],
)
def test_bad_schedule_entries_are_refused(
    tmp_path: Path, entry: dict[str, object], reason: str
) -> None:
    """A schedule entry that cannot be applied is refused with the reason."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"faults": [entry]}))
    with pytest.raises(FaultError, match=reason):
        load_schedule(path, START)


def test_schedule_checked_against_the_scenario() -> None:
    """Unknown sites, faults outside the window, whole-step skews and overlaps are refused."""
    ok = Fault("a", FaultKind.OUTAGE, START + 1000, START + 2000)
    check_schedule([ok], ["a"], START, START + DAY, STEP)
    for bad, reason in [
        (Fault("z", FaultKind.OUTAGE, START, START + 1), "no such site"),
        (Fault("a", FaultKind.OUTAGE, START, START + 2 * DAY), "window"),
        (Fault("a", FaultKind.CLOCK_SKEW, START, START + 1, offset_ms=-2 * STEP), "multiple"),
    ]:
        with pytest.raises(FaultError, match=reason):
            check_schedule([bad], ["a"], START, START + DAY, STEP)
    with pytest.raises(FaultError, match="overlap"):
        check_schedule(
            [ok, Fault("a", FaultKind.OUTAGE, START + 1500, START + 3000)],
            ["a"],
            START,
            START + DAY,
            STEP,
        )


def test_generated_faults_are_seeded_and_well_formed() -> None:
    """Same seed, same schedule; every fault fits the window and passes the checks."""
    sites = ["a", "b", "c"]
    a = generate(sites, START, START + 30 * DAY, STEP, rate_per_day=1.0, seed=4)
    b = generate(sites, START, START + 30 * DAY, STEP, rate_per_day=1.0, seed=4)
    c = generate(sites, START, START + 30 * DAY, STEP, rate_per_day=1.0, seed=5)
    assert a == b and a != c
    # Every kind a seed can draw; a theft needs a bin, so only a schedule file has one.
    assert {f.kind for f in a} == set(RANDOM_KINDS)
    check_schedule(a, sites, START, START + 30 * DAY, STEP)
    for fault in a:
        if fault.kind is FaultKind.CLOCK_SKEW:
            assert fault.offset_ms < 0 and fault.offset_ms % STEP != 0


def test_malformed_payloads_are_refused_by_the_protocol() -> None:
    """Every kind of garbage fails decoding, as ingest will find."""
    from edge.protocol import ProtocolError, decode_batch

    for number, kind in enumerate(MalformedKind):
        payload = malformed_payload(
            Fault("a", FaultKind.MALFORMED, START, START, payload=kind), "d", number
        )
        with pytest.raises(ProtocolError):
            decode_batch(payload)


def test_faults_csv_has_every_column(tmp_path: Path) -> None:
    """faults.csv: tenant, site, device, kind, start_ms, end_ms, detail, one row per fault."""
    rows = [FaultRecord("t", "a", "d", FaultKind.REBOOT, START, START + 5, "restarted")]
    path = write_faults(tmp_path, rows)
    with path.open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert row == {
        "tenant": "t",
        "site": "a",
        "device": "d",
        "kind": "reboot",
        "start_ms": str(START),
        "end_ms": str(START + 5),
        "detail": "restarted",
    }


def test_device_clock_stamps_grid_times_with_skew() -> None:
    """Samples land on the grid; skewed ones are shifted and map back; now never goes back."""
    mono = FakeMono()
    sim = SimClock(START, 600.0, mono=mono)
    skew = Fault("a", FaultKind.CLOCK_SKEW, START + 2 * STEP, START + 4 * STEP, offset_ms=-905_000)
    clock = DeviceClock(sim, STEP, [skew])
    # One step of simulated time is one real second at x600.
    assert clock.stamp(sim.t0 + 0.4) == START
    assert clock.stamp(sim.t0 + 1.0) == START + STEP
    stamped = clock.stamp(sim.t0 + 2.7)
    assert stamped == START + 2 * STEP - 905_000
    assert clock.true_ms(stamped) == START + 2 * STEP
    assert clock.true_ms(START + 5 * STEP) == START + 5 * STEP
    assert clock.true_ms(START + 5 * STEP + 1) is None
    mono.now = sim.t0 + 2.7
    assert clock.now_ms() >= stamped  # never behind a timestamp already given out
    mono.now = sim.t0 + 4.5
    assert clock.now_ms() == START + 4 * STEP + STEP // 2
    assert clock.synced


def test_simulated_time_stops_at_the_end_of_the_run() -> None:
    """After `until_ms` simulated time stands still, so send times never run ahead."""
    mono = FakeMono()
    sim = SimClock(START, 600.0, until_ms=START + 3 * STEP, mono=mono)
    clock = DeviceClock(sim, STEP)
    mono.now = sim.t0 + 10.0
    clock.stamp(mono.now)  # a slot past the end: no reading, no effect on the clock
    assert sim.now_ms() == START + 3 * STEP
    assert clock.now_ms() == START + 3 * STEP


def _try_connect(port: int) -> bool:
    """Whether a TCP connection to 127.0.0.1:port is accepted."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_relay_forwards_and_cuts_the_link() -> None:
    """Bytes pass through; cut() refuses connections and drops open ones; restore() heals."""
    upstream = socket.create_server(("127.0.0.1", 0))
    port = upstream.getsockname()[1]

    def echo() -> None:
        """Echo every connection back until the server socket closes."""
        while True:
            try:
                conn, _ = upstream.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    relay = Relay("127.0.0.1", port).start()
    try:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as sock:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            relay.cut()
            assert sock.recv(4) == b""  # the open connection was dropped
        assert not relay.up and not _try_connect(relay.port)
        relay.restore()
        with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as sock:
            sock.sendall(b"pong")
            assert sock.recv(4) == b"pong"
    finally:
        relay.close()
        upstream.close()


def test_live_window_ends_in_the_past_and_faults_come_from_file_and_seed(tmp_path: Path) -> None:
    """The default window ends before now; a future --start is refused; faults are merged."""
    import datetime as dt

    from simulators.command import LiveOptions, build_plan, live_scenario
    from simulators.live import LiveError

    now = START + 30 * DAY + 12_345
    schedule = tmp_path / "f.toml"
    schedule.write_text('[[faults]]\nsite = "suwa-precision"\nkind = "malformed"\nstart = "+1h"\n')
    options = LiveOptions(0, 0, 1, 600.0, "2d", 10, 3, None, schedule, 2.0, tmp_path / "truth")
    scenario = live_scenario(options, now)
    assert scenario.start_ms % STEP == 0 and scenario.duration_ms == 2 * DAY
    # Simulated time runs one step and a margin past the window: that must still be past.
    assert scenario.start_ms + scenario.duration_ms + STEP + 300_000 <= now
    plan = build_plan(options, "t", tmp_path / "run", now)
    kinds = [f.kind for f in plan.faults]
    assert FaultKind.MALFORMED in kinds and len(kinds) > 1
    assert plan.faults == build_plan(options, "t", tmp_path / "run", now).faults
    tomorrow = dt.datetime.fromtimestamp(now / 1000, dt.UTC).date()
    future = LiveOptions(0, 0, 1, 600.0, "2d", 10, 3, tomorrow, None, 0.0, tmp_path)
    with pytest.raises(LiveError, match="before now"):
        live_scenario(future, now)

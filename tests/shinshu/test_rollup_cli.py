"""`shinshu rollup` as a process: it rolls marked hours of the store up and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import wait_until

from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.batch import SeriesId
from storage.rollup_marks import RollupMarks
from storage.rollup_service import watermark
from storage.rollups import rollups_select
from storage.sqlite.store import SqliteStore

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def test_rollup_rolls_marked_hours_and_stops_on_sigterm(tmp_path: Path) -> None:
    """A batch marked long ago is rolled within a round; SIGTERM ends the command with 0."""
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    batch = store.new_batch()
    batch.add_readings(
        DeviceTopic("acme", "plot", "logger"), [Reading("t", SensorKind.AIR_TEMPERATURE, T0, 1.0)]
    )
    assert not store.write_batch(batch)
    RollupMarks(store, "w", clock=lambda: T0 / 1000).after_stored(batch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(SHINSHU_STORE=f"sqlite://{path}", SHINSHU_ROLLUP_INTERVAL_S="0.2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shinshu.cli", "rollup"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: watermark(store) > T0, 30, "the first rollup round")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    series = SeriesId(SensorKind.AIR_TEMPERATURE, "acme", "plot", "logger", "t")
    rolled = store.rows(rollups_select(series, T0, T0 + 1))
    assert [r["count"] for rows in rolled for r in rows.records()] == [1]


def test_rollup_rebuild_rolls_unmarked_days_in_its_range_only(tmp_path: Path) -> None:
    """`--rebuild --since --until` rolls the unmarked points of those UTC days, not the others,
    prints what it did and exits 0; a reversed range is refused with 2."""
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    batch = store.new_batch()
    day = 86_400_000
    readings = [Reading("t", SensorKind.AIR_TEMPERATURE, T0 + d * day, float(d)) for d in range(3)]
    batch.add_readings(DeviceTopic("acme", "plot", "logger"), readings)
    assert not store.write_batch(batch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env.update(SHINSHU_STORE=f"sqlite://{path}")
    command = [sys.executable, "-m", "shinshu.cli", "rollup", "--rebuild"]
    done = subprocess.run(
        [*command, "--since", "2025-01-02", "--until", "2025-01-03"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "rebuilt 1 hourly rollups of 1 series" in done.stdout
    series = SeriesId(SensorKind.AIR_TEMPERATURE, "acme", "plot", "logger", "t")
    rolled = store.rows(rollups_select(series, T0, T0 + 3 * day))
    assert [r["time"] for rows in rolled for r in rows.records()] == [T0 + day]
    reversed_range = subprocess.run(
        [*command, "--since", "2025-01-03", "--until", "2025-01-02"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reversed_range.returncode == 2

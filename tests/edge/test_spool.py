"""The SQLite spool: commit before publish, delete after PUBACK, drop oldest, survive kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.protocol import Reading, SensorKind
from edge.spool import ROW_OVERHEAD, SYNCED_FRAME, Spool, row_size

AIR = SensorKind.AIR_TEMPERATURE


def reading(ts: int, value: float = 1.5, sensor: str = "air") -> Reading:
    """A reading of sensor `sensor` at `ts`."""
    return Reading(sensor, AIR, ts, value)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    """An empty spool with the default cap."""
    return Spool(tmp_path / "spool.sqlite3")


def test_spool_runs_in_wal_mode_with_full_sync(spool: Spool) -> None:
    """The durability settings a power cut needs."""
    db = sqlite3.connect(spool.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # synchronous is per connection: ask the spool's own.
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_claim_then_ack_deletes_exactly_the_batch(spool: Spool) -> None:
    """A batch leaves the spool only through ack; readings after it stay."""
    spool.append([reading(t) for t in range(1, 6)], SYNCED_FRAME)
    batch = spool.claim(0, max_readings=3, max_bytes=65536)
    assert batch is not None
    assert [r.ts_ms for r in batch.readings] == [1, 2, 3]
    assert spool.stats().readings == 5
    assert spool.ack(batch.seq) == 3
    assert spool.stats().readings == 2
    rest = spool.claim(batch.last_id, 10, 65536)
    assert rest is not None
    assert [r.ts_ms for r in rest.readings] == [4, 5]
    assert rest.seq == batch.seq + 1


def test_a_batch_is_delivered_only_while_in_flight(spool: Spool) -> None:
    """A PUBACK for a batch whose receipt already came (a resend's) no longer marks it."""
    spool.append([reading(t) for t in range(1, 4)], SYNCED_FRAME)
    batch = spool.claim(0, max_readings=3, max_bytes=65536, pin=True)
    assert batch is not None
    assert spool.delivered(batch.seq)
    assert spool.ack(batch.seq) == 3
    again = spool.claim(0, max_readings=3, max_bytes=65536, pin=True)
    assert again is None
    assert not spool.delivered(batch.seq)


def test_ids_are_never_reused_after_the_spool_emptied(spool: Spool) -> None:
    """After every reading was acknowledged, new ones still come after the last claimed id."""
    spool.append([reading(1)], SYNCED_FRAME)
    first = spool.claim(0, 10, 65536)
    assert first is not None
    spool.ack(first.seq)
    spool.append([reading(2)], SYNCED_FRAME)
    second = spool.claim(first.last_id, 10, 65536)
    assert second is not None
    assert [r.ts_ms for r in second.readings] == [2]


def test_batch_is_limited_by_bytes_and_never_mixes_frames(spool: Spool) -> None:
    """Byte limit and clock frames both end a batch."""
    spool.append([reading(t, sensor="x" * 100) for t in range(10)], SYNCED_FRAME)
    spool.append([reading(100)], 7)
    batch = spool.claim(0, 100, max_bytes=1024)
    assert batch is not None
    assert 1 < len(batch.readings) < 10
    rest = spool.claim(batch.last_id, 100, 65536)
    assert rest is not None
    assert len(rest.readings) == 10 - len(batch.readings)
    assert rest.frame == SYNCED_FRAME
    last = spool.claim(rest.last_id, 100, 65536)
    assert last is not None
    assert (last.frame, [r.ts_ms for r in last.readings]) == (7, [100])


def test_unacked_batches_keep_number_and_readings_across_reopen(tmp_path: Path) -> None:
    """A batch sent before a crash is re-sent with the same seq; numbering continues upwards."""
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    spool.append([reading(t, value=t / 10) for t in range(1, 11)], SYNCED_FRAME)
    first = spool.claim(0, 4, 65536)
    second = spool.claim(4, 4, 65536)
    assert first is not None and second is not None
    spool.ack(first.seq)
    spool.close()

    again = Spool(path)
    (pending,) = again.unacked()
    assert pending == second
    assert again.last_claimed_id() == second.last_id
    third = again.claim(again.last_claimed_id(), 10, 65536)
    assert third is not None
    assert third.seq == second.seq + 1
    assert [r.ts_ms for r in third.readings] == [9, 10]


def test_cap_drops_the_oldest_and_counts_them_persistently(tmp_path: Path) -> None:
    """Over the cap, exactly the oldest readings go, and the counter survives a restart."""
    size = row_size(AIR.value, "air")
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path, max_bytes=10 * size)
    dropped = sum(spool.append([reading(t)], SYNCED_FRAME) for t in range(25))
    assert dropped == 15
    stats = spool.stats()
    assert (stats.readings, stats.bytes, stats.dropped) == (10, 10 * size, 15)
    batch = spool.claim(0, 100, 65536)
    assert batch is not None
    assert [r.ts_ms for r in batch.readings] == list(range(15, 25))
    spool.close()
    reopened = Spool(path, max_bytes=10 * size)
    assert reopened.stats().dropped == 15
    assert reopened.stats().bytes == 10 * size


def test_dropping_an_unacked_batch_entirely_forgets_its_record(tmp_path: Path) -> None:
    """A claimed batch whose readings were all dropped is not re-sent empty."""
    size = row_size(AIR.value, "air")
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=4 * size)
    spool.append([reading(t) for t in range(4)], SYNCED_FRAME)
    assert spool.claim(0, 2, 65536) is not None
    spool.append([reading(t) for t in range(10, 13)], SYNCED_FRAME)
    assert spool.unacked() == []
    assert spool.stats().dropped == 3


def test_batches_in_flight_are_pinned_and_come_on_top_of_the_cap(tmp_path: Path) -> None:
    """The broker may store an in-flight batch any moment: the cap drops the oldest others."""
    size = row_size(AIR.value, "air")
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=4 * size)
    spool.append([reading(t) for t in range(4)], SYNCED_FRAME)
    in_flight = spool.claim(0, 2, 65536, pin=True)
    assert in_flight is not None
    spool.append([reading(t) for t in range(10, 12)], SYNCED_FRAME)
    assert spool.stats().dropped == 0  # 2 in flight + 4 others
    spool.append([reading(t) for t in range(20, 23)], SYNCED_FRAME)
    assert spool.stats().dropped == 3
    (pending,) = spool.unacked()
    assert [r.ts_ms for r in pending.readings] == [0, 1]
    rest = spool.claim(in_flight.last_id, 10, 65536)
    assert rest is not None
    assert [r.ts_ms for r in rest.readings] == [11, 20, 21, 22]
    spool.unpin_all()  # connection lost: the batch is ordinary spooled data again
    spool.append([reading(30)], SYNCED_FRAME)
    assert spool.stats().dropped == 6
    # The first batch went entirely; the second is re-sent with its number, minus 11.
    assert spool.unacked_seqs() == [rest.seq]
    assert spool.resume(in_flight.seq) is None
    resend = spool.resume(rest.seq)
    assert resend is not None
    assert (resend.seq, [r.ts_ms for r in resend.readings]) == (rest.seq, [20, 21, 22])
    # Resumed means pinned again: the cap takes 30, the oldest reading not in flight.
    spool.append([reading(t) for t in range(40, 44)], SYNCED_FRAME)
    assert spool.stats().dropped == 7
    assert spool.resume(rest.seq) == resend


def test_row_size_counts_text_bytes() -> None:
    """Multi-byte sensor ids count by their UTF-8 size."""
    assert row_size("air_temperature", "川上") == ROW_OVERHEAD + 15 + 6


def test_rebase_moves_only_unclaimed_readings_of_the_frame(spool: Spool) -> None:
    """Sync appears: unsent readings of the run's frame get the offset and become synced."""
    spool.append([reading(1000), reading(2000)], 3)
    claimed = spool.claim(0, 1, 65536)
    assert claimed is not None
    spool.append([reading(3000)], 3)
    assert spool.rebase(3, 500) == 2
    rest = spool.claim(claimed.last_id, 10, 65536)
    assert rest is not None
    assert rest.frame == SYNCED_FRAME
    assert [r.ts_ms for r in rest.readings] == [2500, 3500]
    pending = spool.unacked()[0]
    assert [r.ts_ms for r in pending.readings] == [1000]
    # Sampled before the sync, spooled after it: shifted on the way in.
    spool.append([reading(4000)], 3)
    late = spool.claim(rest.last_id, 10, 65536)
    assert late is not None
    assert (late.frame, [r.ts_ms for r in late.readings]) == (SYNCED_FRAME, [4500])


_WRITER = """
import sys
from pathlib import Path
from edge.protocol import Reading, SensorKind
from edge.spool import Spool
spool = Spool(Path(sys.argv[1]), max_bytes=1 << 30)
ts = 0
while True:
    batch = [Reading("air", SensorKind.AIR_TEMPERATURE, ts + i, float(i)) for i in range(7)]
    spool.append(batch, 0)
    ts += 7
    print(ts, flush=True)
"""


def test_kill_9_while_writing_loses_no_committed_reading(tmp_path: Path) -> None:
    """kill -9 at random moments: the file is intact and every reported commit is on disk."""
    path = tmp_path / "spool.sqlite3"
    rng = random.Random(3)
    before = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        first = int(proc.stdout.readline())
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        reported = max([first, *(int(line) for line in output.split())])
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        spool = Spool(path)
        after = spool.stats().readings
        spool.close()
        # Every commit reported is on disk; at most the one in progress went further.
        assert before + reported <= after <= before + reported + 7
        before = after

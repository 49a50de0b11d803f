"""Export rows say which readings ingest shifted or took after a gap, and how long each gap was.

The flagged points are stored by the real ingest worker (parse, clock correction, gap count,
the store's own encoder), on InfluxDB and on SQLite.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field

import numpy as np

from edge.protocol import Channel, DeviceTopic, Reading, SensorKind, encode_batch
from ingest.clock import SkewCorrector
from ingest.metrics import IngestMetrics
from ingest.sources.mqtt import InMessage
from ingest.worker import IngestWorker, WorkerOptions
from storage.assets import SiteAsset, SiteKind, write_assets
from storage.catalogue import SeriesKey
from storage.export.encoding import CSV_COLUMNS, csv_chunks
from storage.export.provenance import GAP_FACTOR, GapFinder, read_places, with_provenance
from storage.exportwindow import ExportBatch
from storage.protocol import ReadingStore
from storage.readings import Reader

MINUTE_MS = 60_000
# Ingest's clock, fixed so that the shift found is exact; readings start a day before it.
NOW_MS = int(time.time()) // 60 * 60_000
BASE_MS = NOW_MS - 86_400_000
SHIFT_MS = 3_600_000
TOPIC = DeviceTopic("prov", "orchard", "logger")
KIND = SensorKind.AIR_TEMPERATURE


@dataclass
class _Sent:
    def is_published(self) -> bool:
        return True


@dataclass
class _Source:
    """A broker that acknowledges every publish at once."""

    acked: list[int] = field(default_factory=list)

    def get(self, timeout: float) -> InMessage | None:
        return None

    def ack(self, message: InMessage) -> None:
        self.acked.append(message.mid)

    def publish(self, topic: str, payload: bytes) -> _Sent:
        return _Sent()


def _message(seq: int, minutes: range, *, offset_ms: int = 0) -> InMessage:
    """Batch `seq` of readings at BASE + each minute, as a device whose clock is `offset_ms` off
    (then unsynchronised) stamps and sends them."""
    readings = [Reading("t1", KIND, BASE_MS + m * MINUTE_MS - offset_ms, float(m)) for m in minutes]
    payload = encode_batch(
        TOPIC.device, seq, NOW_MS - offset_ms, readings, clock_synced=offset_ms == 0
    )
    return InMessage(TOPIC.topic(Channel.UP), payload, seq, 1, NOW_MS / 1000)


def _ingest(store: ReadingStore, *, count_gaps: bool = True) -> None:
    """Batch 1 on time, batch 2 from a clock an hour behind, batch 6 after batches 3-5 lost."""
    source = _Source()
    options = WorkerOptions(
        count_gaps=count_gaps, retry_initial_s=0.01, retry_max_s=0.05, shutdown_grace_s=0.5
    )
    worker = IngestWorker(
        source,  # type: ignore[arg-type]
        store,
        IngestMetrics(),
        SkewCorrector(300_000, lambda: NOW_MS / 1000),
        options,
    )
    for message in (
        _message(1, range(10)),
        _message(2, range(10, 20), offset_ms=SHIFT_MS),
        _message(6, range(30, 40)),
    ):
        worker.accept(message)
    assert worker.flush()
    assert source.acked == [1, 2, 6]


def _rows(store: ReadingStore) -> list[dict[str, str]]:
    reader = Reader(store, catalogue_ttl_s=0)
    batches = reader.export(
        TOPIC.tenant,
        sites=[],
        kinds=list(SensorKind),
        start_ms=BASE_MS - SHIFT_MS,
        end_ms=NOW_MS,
        window_rows=1_000,
    )
    windows = with_provenance(batches, read_places(store, TOPIC.tenant))
    text = b"".join(csv_chunks(windows)).decode()
    return list(csv.DictReader(text.splitlines()))


def test_flags_of_a_shifted_batch_and_of_a_batch_after_a_gap(store: ReadingStore) -> None:
    """Rows of batch 2 are clock-corrected and at their true times; batch 6 follows a gap."""
    _ingest(store)
    rows = _rows(store)
    minutes = [(int(r["timestamp_ms"]) - BASE_MS) // MINUTE_MS for r in rows]
    assert minutes == [*range(20), *range(30, 40)]
    assert [float(r["value"]) for r in rows] == [float(m) for m in minutes]
    assert [r["clock_corrected"] for r in rows] == [
        "true" if 10 <= m < 20 else "false" for m in minutes
    ]
    assert [r["sequence_gap"] for r in rows] == ["true" if m >= 30 else "false" for m in minutes]
    # Readings every minute, then 11 minutes from minute 19 to 30: more than 3 medians.
    assert [r["gap_before_s"] for r in rows] == ["660.0" if m == 30 else "" for m in minutes]


def test_a_worker_of_a_shared_group_flags_no_sequence_gap(store: ReadingStore) -> None:
    """A worker that sees only some batches cannot tell a gap: none is flagged, shifts still."""
    _ingest(store, count_gaps=False)
    rows = _rows(store)
    assert {r["sequence_gap"] for r in rows} == {"false"}
    assert sum(r["clock_corrected"] == "true" for r in rows) == 10


def test_every_row_of_a_registered_site_has_its_coordinates(store: ReadingStore) -> None:
    """Latitude, longitude and elevation of the site on each row; empty for an unknown site."""
    site = SiteAsset("orchard", SiteKind.FARM, "りんご園", "Apple orchard", 36.65, 138.19, 362.0)
    write_assets(store, TOPIC.tenant, [site])
    _ingest(store)
    other = DeviceTopic(TOPIC.tenant, "unregistered", "logger")
    store.write_readings(other, [Reading("t1", KIND, BASE_MS, 1.0)])
    rows = _rows(store)
    places = {(r["site"], r["latitude"], r["longitude"], r["elevation_m"]) for r in rows}
    assert places == {("orchard", "36.65", "138.19", "362.0"), ("unregistered", "", "", "")}
    assert list(rows[0]) == list(CSV_COLUMNS)


def test_stored_flag_fields_are_those_of_the_layout(store: ReadingStore) -> None:
    """The gap is stored as how many batch numbers were missing (3: batches 3, 4 and 5)."""
    from storage.query import Select, match

    _ingest(store)
    answer = store.rows(
        Select((KIND.value,), match(tenant=TOPIC.tenant), fields=("clock_shift_ms", "seq_gap"))
    )
    flagged = {(row[1], row[2]) for series in answer for row in series.values}
    assert flagged == {(SHIFT_MS, None), (None, 3)}


def _window(key: SeriesKey, times: list[int]) -> ExportBatch:
    count = len(times)
    return ExportBatch(
        [key],
        np.array(times, np.int64),
        np.zeros(count, np.int32),
        np.zeros(count, np.float64),
        np.zeros(count, np.bool_),
        np.zeros(count, np.bool_),
    )


def test_a_gap_is_more_than_three_median_intervals_and_found_across_windows() -> None:
    """Exactly 3 intervals is no gap, more is; the gap between two windows is found too."""
    key = SeriesKey(KIND, "s", "d", "t")
    finder = GapFinder()
    step = 600_000
    first = [0, step, 2 * step, 3 * step, 3 * step + GAP_FACTOR * step]
    gaps = finder.gaps(_window(key, first))
    assert gaps.tolist() == [0, 0, 0, 0, 0]
    last = first[-1]
    second = [last + 4 * step, last + 5 * step, last + 6 * step]
    assert finder.gaps(_window(key, second)).tolist() == [4 * step, 0, 0]


def test_series_are_judged_by_their_own_interval() -> None:
    """A one-minute gap is a gap for a ten-second series, not for a one-minute one."""
    fast = SeriesKey(KIND, "s", "d", "fast")
    slow = SeriesKey(KIND, "s", "d", "slow")
    fast_times = [i * 10_000 for i in range(12)] + [110_000 + 60_000]
    slow_times = [i * 60_000 for i in range(4)]
    times = np.array(fast_times + slow_times, np.int64)
    index = np.array([0] * len(fast_times) + [1] * len(slow_times), np.int32)
    order = np.argsort(times, kind="stable")
    count = len(times)
    batch = ExportBatch(
        [fast, slow],
        times[order],
        index[order],
        np.zeros(count),
        np.zeros(count, np.bool_),
        np.zeros(count, np.bool_),
    )
    gaps = GapFinder().gaps(batch)
    found = {
        (batch.series[batch.index[i]].sensor, int(batch.times[i]), int(gaps[i]))
        for i in range(count)
        if gaps[i]
    }
    assert found == {("fast", 170_000, 60_000)}

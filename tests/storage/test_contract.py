"""The reading store's contract, held by InfluxDB and SQLite alike (see conftest's `store`).

Writes and their typed refusals, overwrite on the same key, aggregates equal to what the raw
points give, exports, the asset registry, alerts with acknowledgements, the catalogue and daily
weather: every answer is checked against what was written, never against the other store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.time import MS_PER_DAY, MS_PER_HOUR, TIMEZONE, day_start_ms
from edge.protocol import DeviceTopic, Reading, SensorKind
from edge.status import AgentState, StatusReport
from storage.alert_types import Alert, AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import (
    Attachment,
    BinAsset,
    Change,
    FieldAsset,
    SiteAsset,
    SiteKind,
    asset_history,
    attachments,
    read_assets,
    retire_asset,
    write_assets,
)
from storage.batch import ChannelReadings
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Select, match
from storage.readings import AggregateFunction, Interval, Reader, SeriesKey
from storage.records import (
    RecordKind,
    WorkRecord,
    find_record,
    read_records,
    void_record,
    write_records,
)
from storage.weather import Daily, daily_weather

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
AIR = SensorKind.AIR_TEMPERATURE
TOPIC = DeviceTopic("acme", "plot", "logger")


def _write(store: ReadingStore, channel: ChannelReadings) -> None:
    """Write one channel's readings; none may be refused."""
    assert store.write_channel(channel) == []


def _tenant() -> str:
    """A tenant of its own, so that examples on one store never see each other's points."""
    return f"t{uuid.uuid4().hex[:10]}"


def _values(store: ReadingStore, tenant: str, kind: SensorKind = AIR) -> list[list[object]]:
    select = Select((kind.value,), match(tenant=tenant), fields=("value", "sensor"))
    return [row for rows in store.rows(select) for row in rows.values]


def test_a_batch_is_stored_and_its_refusals_come_back_typed(store: ReadingStore) -> None:
    """Readings of two devices and a status in one batch; a NaN is refused by its position."""
    tenant = _tenant()
    first, second = DeviceTopic(tenant, "plot", "a"), DeviceTopic(tenant, "plot", "b")
    batch = store.new_batch()
    assert (
        batch.add_readings(first, [Reading("t", AIR, T0, 1.5), Reading("t", AIR, T0 + 1, 2.5)]) == 0
    )
    bad = Reading("t", AIR, T0 + 2, math.nan)
    assert batch.add_readings(second, [Reading("t", AIR, T0, 3.5), bad], shift_ms=250) == 1
    report = StatusReport("b", AgentState.ONLINE, spool_readings=4, spool_dropped=0, version="1.2")
    assert batch.add_status(second, report, T0 + 5) == 0
    assert (batch.readings, batch.statuses) == (4, 1)
    refused = store.write_batch(batch)
    assert [(r.group, r.position, r.reading) for r in refused.readings] == [(1, 1, bad)]
    assert refused.statuses == []
    assert store.count_points() == 3
    by_device = Select(
        (AIR.value,), match(tenant=tenant), fields=("value", "clock_shift_ms"), group_by=("device",)
    )
    answer = {rows.tags["device"]: rows.values for rows in store.rows(by_device)}
    assert answer == {"a": [[T0, 1.5, None], [T0 + 1, 2.5, None]], "b": [[T0, 3.5, 250]]}
    status = store.rows(
        Select(("device_status",), match(tenant=tenant), fields=("online", "state", "version"))
    )
    assert [rows.values for rows in status] == [[[T0 + 5, True, "online", "1.2"]]]


def test_a_part_of_a_batch_is_refused_under_the_numbers_of_the_whole(store: ReadingStore) -> None:
    """`select` keeps group and status numbers, so refusals of a part map to the whole."""
    tenant = _tenant()
    topic = DeviceTopic(tenant, "plot", "a")
    batch = store.new_batch()
    batch.add_readings(topic, [Reading("t", AIR, T0, 1.0)])
    batch.add_readings(topic, [Reading("t", AIR, T0 + 1, 2.0), Reading("t", AIR, T0 + 2, math.inf)])
    refused = store.write_batch(batch.select(groups=[1]))
    assert [(r.group, r.position) for r in refused.readings] == [(1, 1)]
    assert [row[0] for row in _values(store, tenant)] == [T0 + 1]


def test_the_same_key_overwrites_and_fields_merge(store: ReadingStore) -> None:
    """A second write of (measurement, tags, time) replaces the fields it names, keeps others."""
    tenant = _tenant()
    topic = DeviceTopic(tenant, "plot", "a")
    assert (
        store.write_readings(topic, [Reading("t", AIR, T0, 1.0), Reading("t", AIR, T0 + 1, 2.0)])
        == []
    )
    assert store.write_readings(topic, [Reading("t", AIR, T0, 9.0)]) == []
    assert _values(store, tenant) == [[T0, 9.0, "t"], [T0 + 1, 2.0, "t"]]
    tags = {"tenant": tenant, "site": "plot"}
    assert store.write_points([Point("notes", tags, {"a": 1, "b": "x"}, T0)]) == []
    assert store.write_points([Point("notes", tags, {"b": "y", "c": True}, T0)]) == []
    (rows,) = store.rows(Select(("notes",), match(tenant=tenant), fields=("a", "b", "c")))
    assert rows.values == [[T0, 1, "y", True]]


def test_a_field_keeps_its_type(store: ReadingStore) -> None:
    """A point whose field has another type than before is refused; the others are stored."""
    tenant = _tenant()
    tags = {"tenant": tenant, "site": "plot"}
    assert store.write_points([Point("notes", tags, {"n": 1}, T0)]) == []
    refused = store.write_points(
        [Point("notes", tags, {"n": 2}, T0 + 1), Point("notes", tags, {"n": "two"}, T0 + 2)]
    )
    assert [r.index for r in refused] == [1]
    assert "conflict" in refused[0].reason
    (rows,) = store.rows(Select(("notes",), match(tenant=tenant), fields=("n",)))
    assert rows.values == [[T0, 1], [T0 + 1, 2]]


_POINTS = st.dictionaries(
    st.integers(0, 3 * MS_PER_DAY - 1),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32),
    min_size=1,
    max_size=60,
)


@given(points=_POINTS, width=st.sampled_from([MS_PER_HOUR, 6 * MS_PER_HOUR, MS_PER_DAY]))
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_aggregates_equal_what_the_raw_points_give(
    store: ReadingStore, points: dict[int, float], width: int
) -> None:
    """Per bucket: mean, min, max, count, sum and last of the raw points; empty buckets absent."""
    tenant = _tenant()
    times = sorted(points)
    _write(
        store,
        ChannelReadings(
            DeviceTopic(tenant, "plot", "a"),
            "t",
            AIR,
            [T0 + t for t in times],
            [points[t] for t in times],
        ),
    )
    functions = (
        Function.MEAN,
        Function.MIN,
        Function.MAX,
        Function.COUNT,
        Function.SUM,
        Function.LAST,
    )
    start = T0 + 7  # not on a bucket's edge: the first bucket starts before it
    answer = store.rows(
        Select(
            (AIR.value,),
            match(tenant=tenant),
            aggregates=tuple(Aggregate(f) for f in functions),
            start_ms=start,
            end_ms=T0 + 3 * MS_PER_DAY,
            buckets=Buckets(width),
        )
    )
    raw = [(row[0], row[1]) for row in _values(store, tenant)]
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, v in raw:
        if t >= start:
            buckets[t - t % width].append(v)
    found = [row for rows in answer for row in rows.values]
    assert [row[0] for row in found] == sorted(buckets)
    for (_, mean, low, high, count, total, last), values in zip(
        found, (buckets[b] for b in sorted(buckets)), strict=True
    ):
        assert mean == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-6)
        assert (low, high, count, last) == (min(values), max(values), len(values), values[-1])
        assert total == pytest.approx(sum(values), rel=1e-9, abs=1e-6)


def test_a_lone_selector_answers_the_time_of_its_point(store: ReadingStore) -> None:
    """last and max alone keep their point's time; with others, the time is the range's start."""
    tenant = _tenant()
    _write(
        store,
        ChannelReadings(
            DeviceTopic(tenant, "plot", "a"), "t", AIR, [T0, T0 + 5, T0 + 9], [1.0, 7.0, 3.0]
        ),
    )
    base = {"measurements": (AIR.value,), "where": match(tenant=tenant), "start_ms": T0 - 100}
    for function, expected in ((Function.LAST, [T0 + 9, 3.0]), (Function.MAX, [T0 + 5, 7.0])):
        (rows,) = store.rows(Select(aggregates=(Aggregate(function),), **base))
        assert rows.values == [expected]
    (rows,) = store.rows(
        Select(aggregates=(Aggregate(Function.COUNT), Aggregate(Function.MEAN)), **base)
    )
    assert rows.values == [[T0 - 100, 3, pytest.approx(11 / 3)]]


def test_days_start_at_local_midnight(store: ReadingStore) -> None:
    """Buckets of a day in Asia/Tokyo begin at 00:00 JST (15:00 UTC the day before)."""
    tenant = _tenant()
    midnight = day_start_ms(20_000)  # a local midnight, in UTC ms
    times = [midnight - MS_PER_HOUR, midnight, midnight + 23 * MS_PER_HOUR]
    _write(
        store, ChannelReadings(DeviceTopic(tenant, "plot", "a"), "t", AIR, times, [1.0, 2.0, 4.0])
    )
    (rows,) = store.rows(
        Select(
            (AIR.value,),
            match(tenant=tenant),
            aggregates=(Aggregate(Function.SUM),),
            start_ms=midnight - MS_PER_DAY,
            end_ms=midnight + MS_PER_DAY,
            buckets=Buckets(MS_PER_DAY, timezone=TIMEZONE),
        )
    )
    assert rows.values == [[midnight - MS_PER_DAY, 1.0], [midnight, 6.0]]


def test_groups_limits_order_and_filters(store: ReadingStore) -> None:
    """A limit counts within each group; descending order; a tag may be one of several values."""
    tenant = _tenant()
    for device in ("a", "b", "c"):
        _write(
            store,
            ChannelReadings(
                DeviceTopic(tenant, "plot", device), "t", AIR, [T0, T0 + 1, T0 + 2], [1.0, 2.0, 3.0]
            ),
        )
    answer = store.rows(
        Select(
            (AIR.value,),
            match(tenant=tenant, device=["a", "c"]),
            fields=("value",),
            group_by=("device",),
            descending=True,
            limit=2,
            offset=0,
        )
    )
    # Descending, the groups come in reverse order too (as InfluxDB answers).
    assert [(rows.tags, [r[0] for r in rows.values]) for rows in answer] == [
        ({"device": "c"}, [T0 + 2, T0 + 1]),
        ({"device": "a"}, [T0 + 2, T0 + 1]),
    ]
    assert store.rows(Select((AIR.value,), match(tenant="nobody"), fields=("value",))) == []


def test_the_reader_catalogue_readings_aggregates_and_export(store: ReadingStore) -> None:
    """The API's read model on the store: what was written comes back, in the API's shapes."""
    tenant = _tenant()
    topic = DeviceTopic(tenant, "plot", "logger")
    times = [T0 + i * 600_000 for i in range(36)]
    _write(store, ChannelReadings(topic, "t-air", AIR, times, [float(i) for i in range(36)]))
    _write(store, ChannelReadings(topic, "rh", SensorKind.RELATIVE_HUMIDITY, times[:6], [50.0] * 6))
    batch = store.new_batch()
    batch.add_status(
        topic, StatusReport("logger", AgentState.ONLINE, spool_readings=3, spool_dropped=1), T0
    )
    batch.add_status(topic, StatusReport("logger", AgentState.OFFLINE), T0 + 10)
    assert not store.write_batch(batch)
    reader = Reader(store, catalogue_ttl_s=0)
    catalogue = reader.catalogue(tenant)
    key = SeriesKey(AIR, "plot", "logger", "t-air")
    assert catalogue.last_seen[key] == times[-1]
    status = catalogue.status["plot", "logger"]
    assert (status.online, status.at_ms, status.spool_readings, status.spool_dropped) == (
        False,
        T0 + 10,
        3,
        1,
    )
    assert [r.time_ms for r in reader.readings(tenant, key, T0, T0 + MS_PER_HOUR, 3)] == times[:3]
    buckets = reader.aggregates(
        tenant,
        key,
        start_ms=T0,
        end_ms=T0 + 6 * MS_PER_HOUR,
        interval=Interval.HOUR,
        functions=[AggregateFunction.COUNT, AggregateFunction.MAX],
    )
    assert [(b["time"], b["count"], b["max"]) for b in buckets] == [
        (T0 + h * MS_PER_HOUR, 6, 6.0 * h + 5) for h in range(6)
    ]
    spacing = reader.first_spacing(
        tenant, sites=["plot"], kinds=[AIR], start_ms=T0, end_ms=T0 + MS_PER_DAY
    )
    assert spacing == {key: 600_000}
    exported = list(
        reader.export(
            tenant,
            sites=["plot"],
            kinds=[AIR, SensorKind.RELATIVE_HUMIDITY],
            start_ms=T0,
            end_ms=T0 + MS_PER_DAY,
            window_rows=1_000,
        )
    )
    rows = [
        (int(t), batch.series[i].kind, float(v))
        for batch in exported
        for t, i, v in zip(batch.times, batch.index, batch.values, strict=True)
    ]
    assert len(rows) == 42
    assert [r for r in rows if r[1] is AIR] == [(t, AIR, float(i)) for i, t in enumerate(times)]
    assert rows == sorted(rows, key=lambda r: (r[0], r[1].value))
    columns = store.columns(
        Select((AIR.value,), match(tenant=tenant), fields=("value",), group_by=("sensor",))
    )
    assert [(c.tags, c.times.tolist()) for c in columns] == [({"sensor": "t-air"}, times)]
    assert np.array_equal(columns[0].values, np.arange(36, dtype=np.float64))


def test_assets_round_trip_and_the_newest_wins(store: ReadingStore) -> None:
    """Every kind comes back equal, a rewrite replaces, a site filter filters."""
    tenant = _tenant()
    site = SiteAsset("farm", SiteKind.FARM, "畑", "Farm", 36.0, 138.0, 1000.0)
    field = FieldAsset("farm", "f1", "logger", "lettuce", 1.5, ("2025-04-01", "2025-06-01"))
    bin_ = BinAsset("plant", "b1", "gw", "screws", 0.01, 500, "w", "n", 24.0, 100)
    assert write_assets(store, tenant, [site, field, bin_], now_ms=T0) == 3
    newer = FieldAsset("farm", "f1", "logger", "rice", 2.0)
    write_assets(store, tenant, [newer], now_ms=T0 + 1)
    registry = read_assets(store, tenant)
    assert registry.sites == {"farm": site}
    assert registry.fields == {"farm": [newer]}
    assert registry.all_bins() == [bin_]
    assert read_assets(store, tenant, ["plant"]).fields == {}
    assert read_assets(store, _tenant()).sites == {}


def test_alerts_acknowledgements_and_bin_history(store: ReadingStore) -> None:
    """An alert rewritten is one alert; listing, lookup and acknowledgement by state."""
    tenant = _tenant()
    clock = iter(range(1_000, 2_000)).__next__
    alerts = AlertStore(store, clock=lambda: T0 / 1000 + clock())

    def alert(i: int, **extra: object) -> Alert:
        fields: dict[str, object] = {
            "tenant": tenant,
            "site": "plant",
            "device": "gw",
            "sensor": "w",
            "kind": AlertKind.DROP,
            "ts_ms": T0 + i * 1000,
            "score": 0.5,
            "reason": "a drop\nof 3 kg",
            "last_seen_ms": T0 + i * 1000,
        }
        return Alert(**{**fields, **extra})  # type: ignore[arg-type]

    first = alert(0)
    alerts.write([first, alert(1, sensor="n", kind=AlertKind.COUNT_JUMP, score=2.0)])
    alerts.write([alert(0, last_seen_ms=T0 + 5_000)])
    listed = alerts.list_alerts(tenant, AlertState.ALL)
    assert [v.alert.ts_ms for v in listed] == [T0 + 1000, T0]
    assert listed[0].alert.score == 1.0  # clamped to the API's 0..1
    assert listed[1].alert.last_seen_ms == T0 + 5_000
    assert listed[1].alert.reason == "a drop of 3 kg"
    acknowledged = alerts.acknowledge(tenant, first.id, "key-1")
    assert acknowledged.acknowledged_by == "key-1"
    assert alerts.acknowledge(tenant, first.id, "key-2").acknowledged_by == "key-1"
    assert [v.alert.id for v in alerts.list_alerts(tenant, AlertState.ACKNOWLEDGED)] == [first.id]
    assert [v.alert.sensor for v in alerts.list_alerts(tenant, AlertState.OPEN)] == ["n"]
    assert alerts.get(tenant, first.id).acknowledged
    kinds = alerts.list_alerts(tenant, AlertState.ALL, kinds=[AlertKind.COUNT_JUMP])
    assert [v.alert.kind for v in kinds] == [AlertKind.COUNT_JUMP]
    second = kinds[0].alert
    done = alerts.resolve(tenant, second.id, "key-3", note="rescanned\nthe bin")
    assert done.resolved is not None
    assert (done.resolved.by, done.resolved.note) == ("key-3", "rescanned the bin")
    assert done.acknowledged_by == "key-3"  # resolving acknowledges too
    assert alerts.resolve(tenant, second.id, "key-4").resolved == done.resolved
    assert [v.alert.id for v in alerts.list_alerts(tenant, AlertState.RESOLVED)] == [second.id]
    assert [v.alert.id for v in alerts.list_alerts(tenant, AlertState.ACKNOWLEDGED)] == [first.id]
    assert alerts.list_alerts(tenant, AlertState.OPEN) == []
    assert [a.sensor for a in alerts.bin_alerts(tenant, "plant", "gw", ["w"], T0)] == ["w"]
    _write(
        store,
        ChannelReadings(
            DeviceTopic(tenant, "plant", "gw"),
            "w",
            SensorKind.BIN_WEIGHT,
            [T0, T0 + 1, T0 + 2],
            [5.0, 4.0, 3.0],
        ),
    )
    history = alerts.history(
        tenant, "plant", "gw", "w", SensorKind.BIN_WEIGHT, start_ms=T0 + 1, end_ms=T0 + 3
    )
    assert history == [(T0 + 1, 4.0), (T0 + 2, 3.0)]


def test_daily_weather_of_a_field(store: ReadingStore) -> None:
    """Daily minimum, maximum and rain sum per local day; a thin day is left missing."""
    tenant = _tenant()
    first = dt.date(2025, 5, 1)
    start = day_start_ms(first.toordinal() - dt.date(1970, 1, 1).toordinal())
    topic = DeviceTopic(tenant, "farm", "station")
    hours = [start + h * MS_PER_HOUR for h in range(48)] + [start + 48 * MS_PER_HOUR]
    _write(store, ChannelReadings(topic, "t", AIR, hours, [float(h % 24) for h in range(49)]))
    _write(store, ChannelReadings(topic, "rain", SensorKind.RAINFALL, hours[:24], [0.5] * 24))
    found = daily_weather(store, tenant, {"farm": None}, first, first + dt.timedelta(days=2))
    weather = found["farm"]
    assert weather.column(Daily.TMIN)[:2].tolist() == [0.0, 0.0]
    assert weather.column(Daily.TMAX)[:2].tolist() == [23.0, 23.0]
    assert math.isnan(weather.column(Daily.TMIN)[2])  # one reading: not a whole day
    assert weather.column(Daily.RAIN)[0] == pytest.approx(12.0)
    assert daily_weather(store, tenant, {"farm": "other"}, first, first) == {}


def test_asset_versions_keep_who_when_and_which_device(store: ReadingStore) -> None:
    """A bin's device moves: the history keeps both attachments; retiring ends it, keeps history."""
    tenant = _tenant()
    first = BinAsset("works", "bin-1", "gw-a", "screws", 0.002, 5000, "w1", "c1", 48.0)
    moved = dataclasses.replace(first, device="gw-b")
    write_assets(store, tenant, [first], now_ms=T0, by="key-op", change=Change.CREATE)
    write_assets(store, tenant, [moved], now_ms=T0 + MS_PER_DAY, by="key-admin")
    assert read_assets(store, tenant).bins["works"] == [moved]
    history = asset_history(store, tenant, "works", "bin-1")
    assert [(v.at_ms, v.by, v.change, v.asset) for v in history] == [
        (T0, "key-op", Change.CREATE, first),
        (T0 + MS_PER_DAY, "key-admin", Change.UPDATE, moved),
    ]
    assert attachments(history) == [
        Attachment("gw-a", ("w1", "c1"), T0, T0 + MS_PER_DAY),
        Attachment("gw-b", ("w1", "c1"), T0 + MS_PER_DAY, None),
    ]
    retire_asset(store, tenant, moved, by="key-admin", now_ms=T0 + 2 * MS_PER_DAY)
    assert read_assets(store, tenant).bins == {}
    history = asset_history(store, tenant, "works", "bin-1")
    assert len(history) == 3
    assert attachments(history)[-1] == Attachment(
        "gw-b", ("w1", "c1"), T0 + MS_PER_DAY, T0 + 2 * MS_PER_DAY
    )


def test_work_records_round_trip_filter_and_void(store: ReadingStore) -> None:
    """Records come back as written, by asset and kind; the same record twice is one; void stays."""
    tenant = _tenant()
    harvest = WorkRecord(
        "farm",
        "f1",
        RecordKind.HARVEST,
        T0 + MS_PER_DAY,
        quantity=1250.5,
        unit="kg",
        grade="秀",
        by="key-op",
        entered_ms=T0 + 2 * MS_PER_DAY,
    ).with_id()
    planting = WorkRecord("farm", "f1", RecordKind.PLANTING, T0, note="苗 4000").with_id()
    other = WorkRecord("farm", "f2", RecordKind.SPRAYING, T0, product="ボルドー液").with_id()
    assert write_records(store, tenant, [harvest, planting, other, harvest]) == 4
    assert read_records(store, tenant) == [planting, other, harvest]
    assert read_records(store, tenant, assets=["f1"]) == [planting, harvest]
    assert read_records(store, tenant, kinds=[RecordKind.HARVEST]) == [harvest]
    assert read_records(store, tenant, start_ms=T0 + 1) == [harvest]
    assert find_record(store, tenant, "farm", harvest.record) == harvest
    voided = void_record(store, tenant, harvest, by="key-admin", now_ms=T0 + 3 * MS_PER_DAY)
    assert read_records(store, tenant, assets=["f1"]) == [planting]
    assert read_records(store, tenant, assets=["f1"], include_void=True) == [planting, voided]
    assert voided.voided and voided.voided_by == "key-admin"
    assert find_record(store, tenant, "farm", "0" * 16) is None

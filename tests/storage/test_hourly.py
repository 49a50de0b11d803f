"""Hourly means of a field's sensors from the store, each hour labelled by its end."""

from __future__ import annotations

from pathlib import Path

from core.time import MS_PER_HOUR, MS_PER_MINUTE
from edge.protocol import DeviceTopic, Reading, SensorKind
from storage.hourly import hourly_means
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000 // MS_PER_HOUR * MS_PER_HOUR  # a whole hour
AIR, WET = SensorKind.AIR_TEMPERATURE, SensorKind.LEAF_WETNESS


def test_readings_belong_to_the_hour_that_ends_at_or_after_them(tmp_path: Path) -> None:
    """17:20 and 18:00 sharp are the hour labelled 18:00; 18:10 is 19:00's; other devices,
    channels and kinds not asked for stay out."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    readings = [
        Reading("t", AIR, T0 + 20 * MS_PER_MINUTE, 10.0),
        Reading("t", AIR, T0 + MS_PER_HOUR, 12.0),
        Reading("t", AIR, T0 + 70 * MS_PER_MINUTE, 20.0),
        Reading("t2", AIR, T0 + 30 * MS_PER_MINUTE, 99.0),
        Reading("lw", WET, T0 + 30 * MS_PER_MINUTE, 80.0),
    ]
    assert store.write_readings(DeviceTopic("alpha", "orchard", "mast"), readings) == []
    other = [Reading("t", AIR, T0 + 30 * MS_PER_MINUTE, -5.0)]
    assert store.write_readings(DeviceTopic("alpha", "orchard", "other"), other) == []
    found = hourly_means(
        store,
        tenant="alpha",
        site="orchard",
        device="mast",
        kinds=(AIR,),
        start_ms=T0,
        end_ms=T0 + 3 * MS_PER_HOUR,
        sensors=("t",),
    )
    assert list(found) == [AIR]
    assert found[AIR].hour_end_ms == (T0 + MS_PER_HOUR, T0 + 2 * MS_PER_HOUR)
    assert found[AIR].values == (11.0, 20.0)

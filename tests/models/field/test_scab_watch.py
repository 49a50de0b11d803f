"""Apple scab alerts from stored leaf wetness and temperature: one per Mills infection period."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from core.time import JST
from edge.protocol import DeviceTopic, Reading, SensorKind
from models.field.disease import scab_hours_required
from models.field.scab_watch import ScabWatch
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import FieldAsset, write_assets
from storage.sqlite.store import SqliteStore

DAY = dt.datetime(2026, 5, 10, tzinfo=JST)
STEP = dt.timedelta(minutes=15)
MILD_C = 12.0


class Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> float:
        return self.when.timestamp()


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3")


def _write(
    store: SqliteStore,
    tenant: str,
    *,
    wet_from: dt.datetime,
    wet_h: float,
    until: dt.datetime,
    device: str = "mast",
    wetness: bool = True,
) -> None:
    """Readings every 15 min from the day's start to `until`: mild, wet for `wet_h` hours."""
    rows = []
    at = DAY
    while at <= until:
        ms = int(at.timestamp() * 1000)
        wet = wet_from <= at < wet_from + dt.timedelta(hours=wet_h)
        rows.append(Reading("t", SensorKind.AIR_TEMPERATURE, ms, MILD_C + (0.5 if wet else 2.0)))
        if wetness:
            rows.append(Reading("lw", SensorKind.LEAF_WETNESS, ms, 95.0 if wet else 0.0))
        at += STEP
    assert store.write_readings(DeviceTopic(tenant, "orchard", device), rows) == []


def _field(crop: str = "apple") -> FieldAsset:
    return FieldAsset("orchard", "block-a", "mast", crop, 1.0)


def _scab(alerts: AlertStore, tenant: str) -> list:
    return [v.alert for v in alerts.list_alerts(tenant, AlertState.ALL, kinds=[AlertKind.SCAB])]


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def test_a_long_mild_wet_spell_raises_one_alert_stamped_when_the_table_was_met(
    store: SqliteStore,
) -> None:
    """14 h wet at about 12.5 °C is past the table's ~8 h: one alert, stamped when the wet
    hours reached the requirement; a later pass with the spell grown rewrites the same alert."""
    write_assets(store, "alpha", [_field()])
    wet_from = DAY.replace(hour=8)
    _write(store, "alpha", wet_from=wet_from, wet_h=10, until=DAY.replace(hour=18))
    alerts = AlertStore(store)
    clock = Clock(DAY.replace(hour=18, minute=10))
    watch = ScabWatch(store, alerts, clock=clock)
    (first,) = watch.run_once()
    need_h = scab_hours_required(MILD_C + 0.5)
    assert need_h is not None
    met = first.ts_ms - _ms(wet_from)
    assert need_h * 3_600_000 <= met <= (math.ceil(need_h) + 1) * 3_600_000
    assert (first.kind, first.sensor, first.device) == (AlertKind.SCAB, "block-a", "mast")
    assert "12.5 °C" in first.reason and "12.5 °C" in first.reason_ja
    # The spell goes on for 4 more hours and dries; the next passes find the same alert.
    _write(store, "alpha", wet_from=wet_from, wet_h=14, until=DAY.replace(hour=23))
    clock.when = DAY.replace(hour=23, minute=10)
    (later,) = watch.run_once()
    assert later.id == first.id
    assert watch.run_once() == [later]
    (stored,) = _scab(alerts, "alpha")
    assert "wet 10 h" in first.reason and "wet 14 h" in stored.reason  # the newest wet hours


def test_a_short_wet_spell_raises_nothing(store: SqliteStore) -> None:
    """4 h wet at the same temperature is short of the table: no alert."""
    write_assets(store, "alpha", [_field()])
    _write(store, "alpha", wet_from=DAY.replace(hour=8), wet_h=4, until=DAY.replace(hour=20))
    alerts = AlertStore(store)
    assert ScabWatch(store, alerts, clock=Clock(DAY.replace(hour=20, minute=10))).run_once() == []
    assert _scab(alerts, "alpha") == []


def test_other_tenants_crops_and_fields_without_a_wetness_sensor_are_untouched(
    store: SqliteStore,
) -> None:
    """The same long spell: alpha's apple field is alerted; beta's lettuce field and gamma's
    apple field without a leaf-wetness sensor are not, and nothing lands under alpha twice."""
    wet_from = DAY.replace(hour=8)
    until = DAY.replace(hour=23)
    for tenant in ("alpha", "beta", "gamma"):
        write_assets(store, tenant, [_field("lettuce" if tenant == "beta" else "apple")])
        _write(store, tenant, wet_from=wet_from, wet_h=14, until=until, wetness=tenant != "gamma")
    alerts = AlertStore(store)
    raised = ScabWatch(store, alerts, clock=Clock(until.replace(minute=10))).run_once()
    assert [a.tenant for a in raised] == ["alpha"]
    assert _scab(alerts, "beta") == [] and _scab(alerts, "gamma") == []
    assert len(_scab(alerts, "alpha")) == 1


def test_a_period_that_began_before_the_window_is_left_to_earlier_passes(
    store: SqliteStore,
) -> None:
    """With only the last 12 h in view (11 of them wet, past the table), the spell's start is
    out of sight: no second alert is stamped from the truncated view; the full view has one."""
    write_assets(store, "alpha", [_field()])
    until = DAY.replace(hour=23)
    _write(store, "alpha", wet_from=DAY.replace(hour=8), wet_h=14, until=until)
    alerts = AlertStore(store)
    clock = Clock(until.replace(minute=10))
    assert ScabWatch(store, alerts, lookback_h=12, clock=clock).run_once() == []
    assert len(ScabWatch(store, alerts, clock=clock).run_once()) == 1

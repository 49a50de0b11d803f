"""The landslide watch over a real SQLite store: levels from stored rain, one alert per rise."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from edge.protocol import DeviceTopic, Reading, SensorKind
from models.landslide.levels import Level, Thresholds
from models.landslide.service import STEP_MS, LandslideWatch, rain_per_step, start_landslide
from models.landslide.settings import write_thresholds
from models.landslide.tank import run_tanks
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.sqlite.store import SqliteStore

DAY = 86_400_000
HOUR = 3_600_000
# A multiple of the 10-minute step, so that the test's readings fall on step ends.
T0 = 1_780_000_200_000 // STEP_MS * STEP_MS


class Clock:
    """A settable clock in ms."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3")


def _rain(
    store: SqliteStore,
    values: list[float],
    *,
    tenant: str = "alpha",
    site: str = "hillside",
    device: str = "wx",
    sensor: str = "rain",
    start_ms: int = T0,
) -> None:
    """Readings of rain since the previous reading, every 10 minutes from `start_ms`."""
    readings = [
        Reading(sensor, SensorKind.RAINFALL, start_ms + i * STEP_MS, v)
        for i, v in enumerate(values)
    ]
    assert store.write_readings(DeviceTopic(tenant, site, device), readings) == []


def _storm(dry_days: int = 13) -> list[float]:
    """Dry days, then 10 mm every 10 minutes for 4 hours (60 mm/h), then 6 dry hours."""
    return [0.0] * (dry_days * 144) + [10.0] * 24 + [0.0] * 36


def test_heavy_rain_raises_caution_then_warning_once_each(store: SqliteStore) -> None:
    """60 mm/h for 4 h reaches the default caution (R60 30 mm) and then warning (SWI 150 mm):
    two alerts, stamped at the step each level was reached, the same on every later pass."""
    values = _storm()
    _rain(store, values)
    end = T0 + (len(values) - 1) * STEP_MS
    clock = Clock(end + 5 * 60_000)
    alerts = AlertStore(store)
    watch = LandslideWatch(store, alerts, clock=clock)
    first = watch.run_once()
    assert [(a.kind, a.score) for a in first] == [
        (AlertKind.LANDSLIDE, pytest.approx(1 / 3)),
        (AlertKind.LANDSLIDE, pytest.approx(2 / 3)),
    ]
    storm_start = T0 + 13 * 144 * STEP_MS
    caution, warning = first
    # R60 reaches 30 mm with the third 10 mm reading; SWI 150 mm some hours into the storm.
    assert caution.ts_ms == storm_start + 2 * STEP_MS
    assert storm_start + HOUR < warning.ts_ms < storm_start + 4 * HOUR
    assert "警戒" in warning.reason_ja and "warning" in warning.reason
    assert "土壌雨量指数" in warning.reason_ja and "soil water index" in warning.reason
    assert "既定値" in warning.reason_ja and "default thresholds" in warning.reason
    # The same pass again, and one 30 minutes later: the same alerts, no new ones.
    assert [a.id for a in watch.run_once()] == [a.id for a in first]
    clock.ms += 30 * 60_000
    assert [a.id for a in watch.run_once()] == [a.id for a in first]
    stored = alerts.list_alerts("alpha", AlertState.ALL)
    assert sorted(v.alert.id for v in stored) == sorted(a.id for a in first)
    # The alert was raised within the last day: news for the notifier, not history.
    assert all(clock.ms - a.ts_ms < DAY for a in first)


def test_dry_weather_is_level_none_and_raises_nothing(store: SqliteStore) -> None:
    """Two weeks without rain: the site is listed at level none with zero SWI, no alert."""
    _rain(store, [0.0] * (14 * 144))
    clock = Clock(T0 + 14 * DAY)
    watch = LandslideWatch(store, AlertStore(store), clock=clock)
    assert watch.run_once() == []
    (level,) = watch.levels("alpha")
    assert (level.site, level.level, level.swi_mm, level.r60_mm) == ("hillside", Level.NONE, 0, 0)
    assert level.at_ms == T0 + 14 * DAY
    assert level.last_reading_ms == T0 + (14 * 144 - 1) * STEP_MS
    assert level.default_thresholds


def test_readings_off_the_grid_are_summed_into_the_step_they_end(store: SqliteStore) -> None:
    """A gauge reporting every 3 minutes, off the 10-minute grid, with rain varying: the SWI
    and R60 are those of its readings put in steps by hand."""
    rng = np.random.default_rng(5)
    start = T0 + 7 * 60_000
    values = rng.gamma(0.5, 2.0, size=2 * 480).round(1).tolist()  # two days at 3 minutes
    readings = [
        Reading("rain", SensorKind.RAINFALL, start + i * 180_000, v) for i, v in enumerate(values)
    ]
    assert store.write_readings(DeviceTopic("alpha", "hillside", "wx"), readings) == []
    clock = Clock(start + len(values) * 180_000 + 4 * 60_000)
    (level,) = LandslideWatch(store, AlertStore(store), clock=clock).levels("alpha")
    end = int(clock.ms) // STEP_MS * STEP_MS
    origin = end - 14 * 144 * STEP_MS
    points = [(r.ts_ms, r.value) for r in readings]
    rain = rain_per_step(points, origin_ms=origin, steps=14 * 144)
    assert sum(rain) == pytest.approx(sum(v for t, v in points if t <= end))
    assert level.swi_mm == pytest.approx(run_tanks(rain, step_minutes=10).swi_mm[-1])
    assert level.r60_mm == pytest.approx(float(sum(rain[-6:])))
    assert level.last_reading_ms == max(t for t, _ in points if t <= end)


def test_an_operators_thresholds_replace_the_defaults(store: SqliteStore) -> None:
    """With caution at SWI 45 mm and no R60 criterion, the storm's first alert comes when the
    SWI reaches 45 mm, not when R60 reaches 30 mm; danger at 170 mm is its own kind."""
    values = _storm()
    _rain(store, values)
    limits = Thresholds(
        caution_swi_mm=45.0,
        caution_r60_mm=None,
        warning_swi_mm=150.0,
        danger_swi_mm=170.0,
    )
    write_thresholds(store, "alpha", "hillside", limits, by="tests", now_ms=T0)
    clock = Clock(T0 + len(values) * STEP_MS)
    raised = LandslideWatch(store, AlertStore(store), clock=clock).run_once()
    assert [a.kind for a in raised] == [
        AlertKind.LANDSLIDE,
        AlertKind.LANDSLIDE,
        AlertKind.LANDSLIDE_DANGER,
    ]
    storm_start = T0 + 13 * 144 * STEP_MS
    swi = run_tanks(values, step_minutes=10).swi_mm
    first_over = int(np.argmax(swi >= 45.0))
    assert raised[0].ts_ms == T0 + first_over * STEP_MS
    assert raised[0].ts_ms > storm_start + 2 * STEP_MS
    assert "既定値" not in raised[0].reason_ja


def test_each_tenant_sees_and_is_alerted_for_its_own_sites_only(store: SqliteStore) -> None:
    """The same site id under two tenants: storm at beta, dry at alpha."""
    values = _storm()
    _rain(store, [0.0] * len(values), tenant="alpha")
    _rain(store, values, tenant="beta")
    clock = Clock(T0 + len(values) * STEP_MS)
    alerts = AlertStore(store)
    watch = LandslideWatch(store, alerts, clock=clock)
    raised = watch.run_once()
    assert {a.tenant for a in raised} == {"beta"}
    assert alerts.list_alerts("alpha", AlertState.ALL) == []
    assert [(x.tenant, x.level) for x in watch.levels("alpha")] == [("alpha", Level.NONE)]
    (beta,) = watch.levels("beta")
    # Six dry hours after the storm: back below warning's SWI, still above caution's.
    assert beta.level is Level.CAUTION and beta.swi_mm > 100
    assert {x.tenant for x in watch.levels()} == {"alpha", "beta"}


def test_rises_older_than_a_day_are_not_raised(store: SqliteStore) -> None:
    """A storm two days ago is history: the service, started now, does not alert for it."""
    values = _storm(dry_days=10) + [0.0] * (2 * 144)
    _rain(store, values)
    clock = Clock(T0 + len(values) * STEP_MS)
    watch = LandslideWatch(store, AlertStore(store), clock=clock)
    assert watch.run_once() == []
    assert watch.levels("alpha")[0].swi_mm > 0


def test_rain_is_counted_in_the_step_its_reading_ends() -> None:
    """A reading at a step's end belongs to that step; one just after, to the next."""
    rain = rain_per_step(
        [(1_000 + STEP_MS, 2.0), (1_000 + STEP_MS + 1, 3.0), (1_000, 9.0), (1_000 + 5, -1.0)],
        origin_ms=1_000,
        steps=3,
    )
    assert rain.tolist() == [2.0, 3.0, 0.0]


def test_two_weeks_of_spin_up_forget_a_wet_start() -> None:
    """The window starts dry; a soil left wet by 300 mm in a day keeps under 3 mm of SWI after
    the 14 dry days the window spans, so starting from zero costs at most that."""
    wet = run_tanks([300 / 144] * 144, step_minutes=10)
    start = wet.storage_mm[-1]
    assert wet.swi_mm[-1] > 150
    after = run_tanks([0.0] * (14 * 144), step_minutes=10, initial_mm=start).swi_mm[-1]
    assert 0 < after < 3.0


def test_the_alerts_service_thread_writes_landslide_alerts_and_stops(tmp_path: Path) -> None:
    """`start_landslide` (what `shinshu alerts` starts) raises the storm's alerts from the
    store named by the settings, and its thread ends when told to stop."""
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    end = int(time.time() * 1000) // STEP_MS * STEP_MS
    values = [0.0] * (13 * 144) + [10.0] * 24
    _rain(store, values, start_ms=end - (len(values) - 1) * STEP_MS)
    stop = threading.Event()
    thread = start_landslide(Settings(store=f"sqlite://{path}", data_dir=tmp_path), stop)
    alerts = AlertStore(store)
    deadline = time.monotonic() + 20
    while len(alerts.list_alerts("alpha", AlertState.ALL)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    kinds = [v.alert.kind for v in alerts.list_alerts("alpha", AlertState.ALL)]
    assert kinds == [AlertKind.LANDSLIDE, AlertKind.LANDSLIDE]

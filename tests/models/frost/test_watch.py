"""Frost-risk alerts from stored readings: a clear cold spring night warns once, a warm one not."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from core.time import JST
from edge.protocol import DeviceTopic, Reading, SensorKind
from models.frost.critical import Stage, critical_temperature
from models.frost.hourly import relative_humidity
from models.frost.watch import FrostWatch
from storage.alert_types import AlertKind, AlertState
from storage.alerts import AlertStore
from storage.assets import FieldAsset, write_assets
from storage.sqlite.store import SqliteStore

HOUR_MS = 3_600_000
SEASON = dt.datetime(2026, 3, 1, tzinfo=JST)
NIGHT = dt.date(2026, 4, 20)  # day 50 of the season
AIR, RH = SensorKind.AIR_TEMPERATURE, SensorKind.RELATIVE_HUMIDITY
WIND, SUN = SensorKind.WIND_SPEED, SensorKind.SOLAR_RADIATION


class Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> float:
        return self.when.timestamp()


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3")


Cycle = tuple[float, float, float, float]
COLD: Cycle = (4.0, 9.0, -6.0, 1.0)  # clear, calm and dry
WARM: Cycle = (15.0, 3.0, 11.0, 3.0)  # cloudy and humid
COLDER: Cycle = (2.0, 9.0, -12.0, 0.5)  # clear, calm and very dry
BITTER: Cycle = (-6.0, 9.0, -22.0, 0.5)  # colder than even silver tip's buds survive


def _cycles(days: int, *, warm: bool, seed: int, last: Cycle) -> list[Cycle]:
    """Per day (09:00 to 09:00): mean, amplitude, dew point, wind; the last day is the test."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(days - 1):
        clear = rng.uniform(0.0, 1.0)
        mean = rng.uniform(7.0, 12.0) + (6.0 if warm else 0.0)
        out.append((mean, 3.0 + 6.0 * clear, mean - 3.0 - 7.0 * clear, 4.0 - 3.0 * clear))
    out.append(last)  # the night under test
    return out


def _write_site(
    store: SqliteStore,
    tenant: str,
    device: str,
    *,
    until: dt.datetime,
    warm: bool = False,
    every_h: int = 1,
    seed: int = 1,
    last: Cycle | None = None,
) -> None:
    """Hourly-ish mast readings from March 1 to `until`: a sine day peaking at 15:00."""
    hours = int((until - SEASON) / dt.timedelta(hours=1)) + 1
    night = last or (WARM if warm else COLD)
    # One cycle per 09:00-09:00 day; the last (the issue day's) is the night under test.
    cycles = _cycles((hours - 10) // 24 + 1, warm=warm, seed=seed, last=night)
    rng = np.random.default_rng(seed + 100)
    rows: list[Reading] = []
    for i in range(0, hours, every_h):
        at = SEASON + dt.timedelta(hours=i)
        since_nine = (at - (SEASON + dt.timedelta(hours=9))) / dt.timedelta(hours=1)
        mean, amp, dew, wind = cycles[max(int(since_nine // 24), 0)]
        t = mean + amp * math.sin(2 * math.pi * (since_nine % 24) / 24) + rng.normal(0, 0.2)
        rh = float(relative_humidity(np.array([t]), np.array([min(dew, t)]))[0])
        sun = max(0.0, 800.0 * (amp / 9.0) * math.sin(math.pi * (at.hour - 6) / 12))
        ms = int(at.timestamp() * 1000)
        rows += [
            Reading("t", AIR, ms, round(t, 2)),
            Reading("rh", RH, ms, round(rh, 1)),
            Reading("wind", WIND, ms, round(wind, 2)),
            Reading("sun", SUN, ms, round(sun, 1)),
        ]
    assert store.write_readings(DeviceTopic(tenant, "orchard", device), rows) == []


def _field(asset: str, device: str, crop: str = "apple") -> FieldAsset:
    return FieldAsset("orchard", asset, device, crop, 1.0)


def _frost(alerts: AlertStore, tenant: str) -> list:
    return [v.alert for v in alerts.list_alerts(tenant, AlertState.ALL, kinds=[AlertKind.FROST])]


def _at(hour: int, minute: int = 5) -> dt.datetime:
    return dt.datetime.combine(NIGHT, dt.time(hour, minute), JST)


def test_a_clear_cold_night_under_a_bud_stage_raises_one_alert(store: SqliteStore) -> None:
    """The 15:00 pass warns; a second pass, a restarted watch and the 21:00 issue time all
    rewrite the same alert, which ends with the 21:00 forecast; the model made it."""
    write_assets(store, "alpha", [_field("block-a", "mast")])
    _write_site(store, "alpha", "mast", until=_at(15, 0))
    alerts = AlertStore(store)
    clock = Clock(_at(15))
    watch = FrostWatch(store, alerts, clock=clock)
    (first,) = watch.run_once()
    assert (first.kind, first.site, first.device, first.sensor) == (
        AlertKind.FROST,
        "orchard",
        "mast",
        "block-a",
    )
    assert first.ts_ms == int(_at(15, 0).timestamp() * 1000)
    assert "model" in first.reason and "fallback" not in first.reason
    assert "15:00" in first.reason and "りんご" in first.reason_ja
    assert watch.run_once() == []  # the issue time was judged already
    (again,) = FrostWatch(store, alerts, clock=clock).run_once()
    assert again.id == first.id
    # The evening: readings up to 21:00, the later issue time still warns.
    _write_site(store, "alpha", "mast", until=_at(21, 0))
    clock.when = _at(21)
    (evening,) = watch.run_once()
    assert evening.id == first.id
    (stored,) = _frost(alerts, "alpha")
    assert "21:00" in stored.reason and "21:00" in stored.reason_ja


def test_a_warm_night_raises_nothing(store: SqliteStore) -> None:
    """A cloudy, humid night well above the stage's critical temperatures: no alert."""
    write_assets(store, "alpha", [_field("block-a", "mast")])
    _write_site(store, "alpha", "mast", until=_at(21, 0), warm=True)
    alerts = AlertStore(store)
    assert FrostWatch(store, alerts, clock=Clock(_at(21))).run_once() == []
    assert _frost(alerts, "alpha") == []


def test_a_forecast_that_fell_back_says_so(store: SqliteStore) -> None:
    """A mast reporting every 2 h has no whole night to train on: the rule warns, and says so."""
    write_assets(store, "alpha", [_field("block-b", "sparse")])
    _write_site(store, "alpha", "sparse", until=_at(21, 0), every_h=2, last=COLDER)
    (alert,) = FrostWatch(store, AlertStore(store), clock=Clock(_at(21))).run_once()
    assert "fallback physical rule" in alert.reason
    assert "代替の物理式" in alert.reason_ja


def test_other_tenants_and_crops_are_untouched(store: SqliteStore) -> None:
    """Tenant beta's cold apple field warns for beta only; alpha's lettuce field never does."""
    write_assets(store, "alpha", [_field("lettuce-1", "mast", crop="lettuce")])
    write_assets(store, "beta", [_field("block-a", "mast")])
    _write_site(store, "alpha", "mast", until=_at(15, 0))
    _write_site(store, "beta", "mast", until=_at(15, 0), seed=2)
    alerts = AlertStore(store)
    raised = FrostWatch(store, alerts, clock=Clock(_at(15))).run_once()
    assert [(a.tenant, a.sensor) for a in raised] == [("beta", "block-a")]
    assert _frost(alerts, "alpha") == []


def test_before_the_first_issue_time_and_before_silver_tip_nothing_is_judged(
    store: SqliteStore,
) -> None:
    """At 14:00 no issue time is due; on March 5 the buds are still dormant, so even a night
    colder than silver tip's 10 % kill temperature is no bud frost."""
    write_assets(store, "alpha", [_field("block-a", "mast")])
    march = dt.datetime(2026, 3, 5, 15, 0, tzinfo=JST)
    _write_site(store, "alpha", "mast", until=march, last=BITTER)
    alerts = AlertStore(store)
    assert FrostWatch(store, alerts, clock=Clock(march.replace(hour=14))).run_once() == []
    watch = FrostWatch(store, alerts, clock=Clock(march.replace(minute=5)))
    assert watch.run_once() == []
    assert _frost(alerts, "alpha") == []


def test_a_cold_night_after_the_frost_season_raises_nothing(store: SqliteStore) -> None:
    """By late July the buds are long past bloom: a cold night is not judged with blossom
    temperatures, although its forecast interval lies below post bloom's kill temperature."""
    write_assets(store, "alpha", [_field("block-a", "mast")])
    july = dt.datetime(2026, 7, 20, 15, 0, tzinfo=JST)
    _write_site(store, "alpha", "mast", until=july)
    watch = FrostWatch(store, AlertStore(store), clock=Clock(july.replace(minute=5)))
    field = _field("block-a", "mast")
    tonight = watch.forecast("alpha", field, july.replace(tzinfo=None), now_ms=_ms(july))
    assert tonight.low < critical_temperature(Stage.POST_BLOOM).kill_10  # would warn in season
    assert watch.run_once() == []


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)

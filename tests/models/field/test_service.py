"""Field analytics over a real SQLite store: each part recomputed here from the written hours."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.errors import NotFoundError
from core.time import MS_PER_HOUR, day_number, day_start_ms
from edge.protocol import DeviceTopic, Reading, SensorKind
from models.field.chill import dynamic_portions
from models.field.service import FieldAnalytics, Part
from storage.assets import FieldAsset, write_assets
from storage.errors import QueryError
from storage.records import RecordKind, WorkRecord, write_records
from storage.sqlite.store import SqliteStore

SITE = "azumino-01"
APPLE = FieldAsset(SITE, "orchard-a", "pi-a", "apple", 0.5)
FIRST = dt.date(2025, 10, 1)
AS_OF = dt.date(2026, 4, 10)
GAP = (2500, 2530)  # hours of the series without any reading (mid January)
WET_DAY = dt.date(2026, 4, 5)
# Cornell NRCC apple stage thresholds, °F·day above 43 °F (stages.py, docs/field.md).
APPLE_F_DAYS = [
    (0, "dormant"),
    (85, "silver_tip"),
    (121, "green_tip"),
    (175, "half_inch_green"),
    (233, "tight_cluster"),
    (295, "first_pink"),
    (382, "full_bloom"),
    (484, "petal_fall"),
]


@dataclass
class Hours:
    """The hourly values written, from FIRST's local midnight; NaN where nothing was written."""

    temp: np.ndarray
    rh: np.ndarray
    wet: np.ndarray

    def index(self, day: dt.date, hour: int = 0) -> int:
        """Position of a local hour."""
        return (day - FIRST).days * 24 + hour


def _series(seed: int) -> Hours:
    """A Nagano-like autumn to spring: cold winter, daily swing, humid nights."""
    rng = np.random.default_rng(seed)
    n = ((AS_OF - FIRST).days + 1) * 24
    h = np.arange(n)
    day = h // 24
    # Seasonal mean 12 °C on 1 October, about -1 °C in mid January, 12 °C in April.
    seasonal = 5.5 + 6.5 * np.cos(2 * math.pi * (day - 0) / 210)
    temp = seasonal + 5.0 * np.sin(2 * math.pi * ((h % 24) - 9) / 24) + rng.normal(0, 1.0, n)
    rh = np.clip(70 - 25 * np.sin(2 * math.pi * ((h % 24) - 9) / 24) + rng.normal(0, 8, n), 5, 100)
    wet = np.zeros(n)
    out = Hours(np.round(temp, 2), np.round(rh, 1), wet)
    # A long wet period at 15 °C (59 °F: 7 h needed) on 5 April, a short one after 10 dry hours.
    long_ = slice(out.index(WET_DAY, 8), out.index(WET_DAY, 20))
    after = WET_DAY + dt.timedelta(days=1)
    short = slice(out.index(after, 6), out.index(after, 10))
    for part in (long_, short):
        out.temp[part] = 15.0
        out.wet[part] = 100.0
    for arr in (out.temp, out.rh, out.wet):
        arr[GAP[0] : GAP[1]] = np.nan
    return out


def _write(store: SqliteStore, tenant: str, hours: Hours, *, device: str, rh: bool = True) -> None:
    """One reading per hour and kind at the hour's start."""
    start = day_start_ms(day_number(FIRST))
    kinds = [
        ("air", SensorKind.AIR_TEMPERATURE, hours.temp),
        ("wet", SensorKind.LEAF_WETNESS, hours.wet),
    ]
    if rh:
        kinds.append(("rh", SensorKind.RELATIVE_HUMIDITY, hours.rh))
    readings = [
        Reading(sensor, kind, start + i * MS_PER_HOUR, float(v))
        for sensor, kind, values in kinds
        for i, v in enumerate(values)
        if np.isfinite(v)
    ]
    assert store.write_readings(DeviceTopic(tenant, SITE, device), readings) == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteStore, Hours, Hours]:
    """Alpha's apple orchard with every sensor; beta's same site id without humidity."""
    store = SqliteStore(tmp_path_factory.mktemp("field") / "s.sqlite3")
    alpha, beta = _series(1), _series(2)
    _write(store, "alpha", alpha, device="pi-a")
    _write(store, "beta", beta, device="pi-a", rh=False)
    write_assets(store, "alpha", [APPLE])
    write_assets(store, "beta", [APPLE])
    return store, alpha, beta


def _days(values: np.ndarray, first: dt.date, last: dt.date) -> np.ndarray:
    """The hours of local days [first, last] as rows of 24."""
    a, b = (first - FIRST).days * 24, ((last - FIRST).days + 1) * 24
    return values[a:b].reshape(-1, 24)


def _utah(t: float) -> float:
    """Richardson et al. (1974) weights, written out."""
    for bound, weight in ((1.4, 0), (2.4, 0.5), (9.1, 1), (12.4, 0.5), (15.9, 0), (18, -0.5)):
        if t <= bound:
            return weight
    return -1.0


def test_apple_degree_days_use_43_86_f_from_1_march(world) -> None:  # type: ignore[no-untyped-def]
    """Daily average method with the mean capped at 30 °C and base 6.11 °C, summed."""
    store, alpha, _ = world
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=AS_OF)
    start = dt.date(2026, 3, 1)
    rows = _days(alpha.temp, start, AS_OF)
    base, upper = (43 - 32) * 5 / 9, (86 - 32) * 5 / 9
    expected = np.maximum(np.minimum((rows.min(1) + rows.max(1)) / 2, upper) - base, 0)
    assert result.gdd is not None
    assert result.season_start == start
    assert [d.date for d in result.gdd.daily] == [
        start + dt.timedelta(days=i) for i in range(len(rows))
    ]
    np.testing.assert_allclose([d.value for d in result.gdd.daily], expected, atol=1e-9)
    np.testing.assert_allclose([d.value for d in result.gdd.cumulative], np.cumsum(expected))
    # The stage is the last of the published thresholds the Fahrenheit sum has reached.
    total_f = float(np.cumsum(expected)[-1]) * 9 / 5
    want = [key for threshold, key in APPLE_F_DAYS if total_f >= threshold][-1]
    assert result.stage is not None
    assert result.stage.current.key.value == want
    assert result.stage.table.confirmed
    assert "Cornell" in result.stage.table.source
    keys = [d.stage.key.value for d in result.stage.series]
    order = [k for _, k in APPLE_F_DAYS]
    assert [order.index(k) for k in keys] == sorted(order.index(k) for k in keys)


def test_chill_of_the_winter_with_a_gap(world) -> None:  # type: ignore[no-untyped-def]
    """1 October to 31 March: Utah units and chilling hours of the measured hours; the Dynamic
    model runs on each stretch between the long gap separately."""
    store, alpha, _ = world
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=AS_OF)
    chill = result.chill
    assert chill is not None
    end = dt.date(2026, 3, 31)
    assert (chill.start, chill.end) == (FIRST, end)
    hours = alpha.temp[: ((end - FIRST).days + 1) * 24]
    seen = hours[np.isfinite(hours)]
    assert chill.hours_missing == GAP[1] - GAP[0]
    assert chill.hours_used == seen.size
    assert chill.utah_units[-1].value == pytest.approx(sum(_utah(t) for t in seen))
    assert chill.chilling_hours[-1].value == sum(1 for t in seen if 0 <= t <= 7.2)
    portions = dynamic_portions(hours[: GAP[0]]).sum() + dynamic_portions(hours[GAP[1] :]).sum()
    assert chill.chill_portions[-1].value == pytest.approx(portions)
    assert chill.chill_portions[-1].value > 20  # a real winter, not an empty sum


def test_vpd_per_day_from_hourly_temperature_and_humidity(world) -> None:  # type: ignore[no-untyped-def]
    """FAO-56 saturation pressure of each hour, then the day's mean and maximum."""
    store, alpha, _ = world
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=AS_OF)
    assert result.vpd is not None
    t = _days(alpha.temp, dt.date(2026, 3, 1), AS_OF)
    rh = _days(alpha.rh, dt.date(2026, 3, 1), AS_OF)
    vpd = 0.6108 * np.exp(17.27 * t / (t + 237.3)) * (1 - rh / 100)
    assert len(result.vpd.days) == len(vpd)
    np.testing.assert_allclose([d.value for d in result.vpd.days], vpd.mean(1), rtol=1e-9)
    np.testing.assert_allclose([d.max for d in result.vpd.days], vpd.max(1), rtol=1e-9)


def test_scab_infection_from_the_long_wet_period_only(world) -> None:  # type: ignore[no-untyped-def]
    """12 wet hours at 15 °C meet the 7 h of the revised Mills table; 4 hours do not."""
    store, _, _ = world
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=AS_OF)
    assert result.scab is not None and result.wetness is not None
    (infection,) = result.scab.infections
    assert infection.start.replace(tzinfo=None) == dt.datetime(2026, 4, 5, 8)
    assert infection.wet_hours == 12
    assert infection.required_hours == pytest.approx(7.0)
    assert [(p.wet_hours, p.infection) for p in result.scab.periods] == [(12, True), (4, False)]
    wet = {d.date: d.value for d in result.wetness.days}
    assert wet[WET_DAY] == 12 and wet[WET_DAY + dt.timedelta(days=1)] == 4


def test_tenants_see_only_their_own_readings(world) -> None:  # type: ignore[no-untyped-def]
    """Beta's orchard has the same site id, other temperatures and no humidity sensor."""
    store, _, beta = world
    analytics = FieldAnalytics(store, ttl_s=0)
    a = analytics.analyse("alpha", SITE, as_of=AS_OF)
    b = analytics.analyse("beta", SITE, as_of=AS_OF)
    assert b.vpd is None and "relative humidity" in b.absent[Part.VPD]
    assert a.vpd is not None and Part.VPD not in a.absent
    rows = _days(beta.temp, dt.date(2026, 3, 1), AS_OF)
    base = (43 - 32) * 5 / 9
    expected = np.maximum((rows.min(1) + rows.max(1)) / 2 - base, 0).sum()
    assert b.gdd is not None and a.gdd is not None
    assert b.gdd.cumulative[-1].value == pytest.approx(expected)
    assert a.gdd.cumulative[-1].value != pytest.approx(expected)
    with pytest.raises(NotFoundError):
        analytics.analyse("gamma", SITE, as_of=AS_OF)


def test_lettuce_counts_from_planting_and_has_no_chill(tmp_path: Path) -> None:
    """A planting record starts the season; no humidity or wetness sensor: those parts absent."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    hours = _series(3)
    start = day_start_ms(day_number(FIRST))
    temps = [
        Reading("air", SensorKind.AIR_TEMPERATURE, start + i * MS_PER_HOUR, float(v))
        for i, v in enumerate(hours.temp)
        if np.isfinite(v)
    ]
    assert store.write_readings(DeviceTopic("alpha", SITE, "pi-l"), temps) == []
    lettuce = FieldAsset(SITE, "bed-1", "pi-l", "lettuce", 0.2, ("2025-09-01",))
    write_assets(store, "alpha", [lettuce])
    planted = dt.date(2026, 3, 20)
    record = WorkRecord(SITE, "bed-1", RecordKind.PLANTING, day_start_ms(day_number(planted)))
    write_records(store, "alpha", [record])
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=AS_OF)
    rows = _days(hours.temp, planted, AS_OF)
    assert result.season_start == planted
    assert result.gdd is not None and result.gdd.thermal.base_c == 0.0
    total = np.maximum((rows.min(1) + rows.max(1)) / 2, 0).sum()
    assert result.gdd.cumulative[-1].value == pytest.approx(total)
    assert result.stage is not None and result.stage.current.key.value == "transplanted"
    assert not result.stage.table.confirmed
    assert set(result.absent) == {Part.CHILL, Part.VPD, Part.WETNESS, Part.SCAB}
    assert result.chill is None and result.scab is None


def test_rice_stage_needs_heading_and_dates_are_checked(tmp_path: Path) -> None:
    """Without a heading date the rice stage is absent; with one it counts base 0 from it."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    hours = _series(4)
    start = day_start_ms(day_number(FIRST))
    temps = [
        Reading("air", SensorKind.AIR_TEMPERATURE, start + i * MS_PER_HOUR, float(v))
        for i, v in enumerate(hours.temp)
        if np.isfinite(v)
    ]
    assert store.write_readings(DeviceTopic("alpha", SITE, "pi-r"), temps) == []
    write_assets(store, "alpha", [FieldAsset(SITE, "paddy", "pi-r", "rice", 1.0, ("2026-02-01",))])
    analytics = FieldAnalytics(store, ttl_s=0)
    plain = analytics.analyse("alpha", SITE, as_of=AS_OF)
    assert plain.stage is None and "heading" in plain.absent[Part.STAGE]
    heading = dt.date(2026, 3, 15)
    headed = analytics.analyse("alpha", SITE, as_of=AS_OF, heading=heading)
    rows = _days(hours.temp, heading, AS_OF)
    assert headed.stage is not None
    assert headed.stage.cumulative == pytest.approx(
        np.maximum((rows.min(1) + rows.max(1)) / 2, 0).sum()
    )
    want = "maturity" if headed.stage.cumulative >= 1050 else "heading"
    assert headed.stage.current.key.value == want
    with pytest.raises(QueryError):
        analytics.analyse("alpha", SITE, as_of=AS_OF, heading=AS_OF + dt.timedelta(days=1))
    with pytest.raises(QueryError):
        analytics.analyse("alpha", SITE, as_of=dt.date(1999, 12, 31))


def test_short_gaps_are_bridged_and_long_ones_stay_missing(tmp_path: Path) -> None:
    """A 2 h gap counts its interpolated hours in the Utah sum; a 5 h gap counts none."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    rng = np.random.default_rng(7)
    temps = np.round(rng.uniform(-2, 20, 5 * 24), 2)
    short, long_ = (30, 32), (60, 65)
    written = temps.copy()
    for a, b in (short, long_):
        written[a:b] = np.nan
    start = day_start_ms(day_number(FIRST))
    readings = [
        Reading("air", SensorKind.AIR_TEMPERATURE, start + i * MS_PER_HOUR, float(v))
        for i, v in enumerate(written)
        if np.isfinite(v)
    ]
    assert store.write_readings(DeviceTopic("alpha", SITE, "pi-g"), readings) == []
    write_assets(store, "alpha", [FieldAsset(SITE, "vines", "pi-g", "grape", 0.3)])
    as_of = FIRST + dt.timedelta(days=4)
    result = FieldAnalytics(store, ttl_s=0).analyse("alpha", SITE, as_of=as_of)
    bridged = [written[29] + (written[32] - written[29]) * k / 3 for k in (1, 2)]
    counted = [t for t in written if np.isfinite(t)] + bridged
    assert result.chill is not None
    assert result.chill.hours_missing == long_[1] - long_[0]
    assert result.chill.utah_units[-1].value == pytest.approx(sum(_utah(t) for t in counted))
    # The season from 1 March has readings only from 1 October: the days before add nothing.
    assert result.gdd is not None
    assert result.gdd.days_missing == (FIRST - dt.date(2025, 3, 1)).days
    # Before 1 March a perennial has no thermal season, and apple no scab season either.
    write_assets(store, "alpha", [FieldAsset("orchard-b", "trees", "", "apple", 0.3)])
    winter = FieldAnalytics(store, ttl_s=0).analyse(
        "alpha", "orchard-b", as_of=dt.date(2026, 1, 10)
    )
    assert winter.gdd is None and winter.stage is None and winter.scab is None
    assert "2026-03-01" in winter.absent[Part.GDD] and Part.SCAB in winter.absent
    assert winter.chill is None and "air temperature" in winter.absent[Part.CHILL]

"""Per-site landslide thresholds and disaster sharing, as versioned points in a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.landslide.errors import LandslideError
from models.landslide.levels import CriticalLine, Level, Thresholds
from models.landslide.settings import (
    read_sharing,
    read_thresholds,
    site_thresholds,
    thresholds_from_json,
    thresholds_to_json,
    write_sharing,
    write_thresholds,
)
from storage.sqlite.store import SqliteStore

T0 = 1_780_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3")


def test_thresholds_round_trip_through_json_with_a_critical_line() -> None:
    """Every criterion, off ones and the CL included, comes back as it was written."""
    limits = Thresholds(
        caution_swi_mm=80.0,
        caution_r60_mm=None,
        warning_swi_mm=120.0,
        warning_r60_mm=40.0,
        danger_swi_mm=None,
        danger_r60_mm=None,
        critical_line=CriticalLine(250.0, 0.0, 0.0, 80.0),
        critical_line_level=Level.WARNING,
    )
    assert thresholds_from_json(thresholds_to_json(limits)) == limits


def test_out_of_order_thresholds_are_refused_when_read() -> None:
    """A stored version with caution above warning is not taken for thresholds."""
    with pytest.raises(LandslideError):
        thresholds_from_json({**thresholds_to_json(Thresholds()), "caution_swi_mm": 500.0})


def test_newest_version_is_in_force_and_a_reset_returns_to_defaults(store: SqliteStore) -> None:
    """Two versions, then a reset: the newest counts, per tenant and site."""
    low = Thresholds(caution_swi_mm=50.0)
    write_thresholds(store, "alpha", "hill", Thresholds(caution_swi_mm=60.0), by="a", now_ms=T0)
    write_thresholds(store, "alpha", "hill", low, by="b", now_ms=T0 + 1000)
    write_thresholds(store, "beta", "hill", Thresholds(caution_swi_mm=70.0), by="c", now_ms=T0)
    assert read_thresholds(store, "alpha") == {("alpha", "hill"): low}
    assert set(read_thresholds(store)) == {("alpha", "hill"), ("beta", "hill")}
    current = site_thresholds(store, "alpha", "hill")
    assert (current.thresholds, current.at_ms, current.by, current.default) == (
        low,
        T0 + 1000,
        "b",
        False,
    )
    write_thresholds(store, "alpha", "hill", None, by="d", now_ms=T0 + 2000)
    assert read_thresholds(store, "alpha") == {}
    assert site_thresholds(store, "alpha", "hill").default
    assert site_thresholds(store, "alpha", "other").thresholds == Thresholds()


def test_sharing_is_off_until_set_and_the_newest_setting_counts(store: SqliteStore) -> None:
    """A site shares only while its newest point says so."""
    assert read_sharing(store) == set()
    write_sharing(store, "alpha", "hill", True, by="a", now_ms=T0)
    write_sharing(store, "beta", "hill", True, by="b", now_ms=T0)
    write_sharing(store, "beta", "hill", False, by="b", now_ms=T0 + 1000)
    assert read_sharing(store) == {("alpha", "hill")}
    assert read_sharing(store, "beta") == set()

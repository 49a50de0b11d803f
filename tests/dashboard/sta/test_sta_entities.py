"""Observations written the quick way are written as any other entity would be."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from core.time import from_ms
from dashboard.sta import entities as ent
from edge.protocol import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, SensorKind
from storage.catalogue import SeriesKey

BASE = "http://sta.example/sta/v1.1"
KEY = SeriesKey(SensorKind.AIR_TEMPERATURE, "plot", "o'logger", "t1")
STAMPS = st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)


@given(STAMPS)
def test_iso_ms_writes_what_iso_of_the_datetime_writes(time_ms: int) -> None:
    """Whole seconds without a fraction, other ms with six digits, always with a Z."""
    assert ent.iso_ms(time_ms) == ent.iso(from_ms(time_ms))


@given(STAMPS, st.floats(allow_nan=False, allow_infinity=False))
def test_an_observation_renders_as_the_general_rendering_does(time_ms: int, value: float) -> None:
    """The same keys in the same order with the same values as an entity built field by field."""
    quick = ent.observation("alpha~plot~o'logger~t1", KEY, time_ms, value)
    # Two equal datetimes that are not one object: `render` takes its general path.
    general = ent.Entity(
        "Observations",
        quick.id,
        {"phenomenonTime": from_ms(time_ms), "resultTime": from_ms(time_ms), "result": value},
        site=KEY.site,
        device=KEY.device,
        series=KEY,
        time_ms=time_ms,
    )
    assert quick == general
    assert list(ent.render(quick, BASE).items()) == list(ent.render(general, BASE).items())


def test_an_observation_with_its_own_result_time_keeps_it() -> None:
    """An Observation whose resultTime differs is not written as if it were its phenomenonTime."""
    at = from_ms(1_735_689_600_000)
    later = at + dt.timedelta(minutes=5)
    entity = ent.Entity(
        "Observations",
        "alpha~plot~logger~t1~1735689600000",
        {"phenomenonTime": at, "resultTime": later, "result": 1.5},
        time_ms=1_735_689_600_000,
    )
    out = ent.render(entity, BASE)
    assert out["phenomenonTime"] == "2025-01-01T00:00:00Z"
    assert out["resultTime"] == "2025-01-01T00:05:00Z"

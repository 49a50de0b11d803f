"""BBCH stage tables: structure, citations, lookups and stages from temperatures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.field.stages import (
    APPLE_BUD_BBCH,
    STAGE_TABLES,
    Stage,
    StageKey,
    StageTable,
    stage_at,
    stage_series,
    stage_table,
    stages_from_temperatures,
)
from models.field.thermal import CROP_THERMAL


def test_every_platform_crop_has_a_cited_table_starting_at_zero() -> None:
    """Apple, grape, rice and lettuce each have a table with a start and a source."""
    assert set(STAGE_TABLES) == {"apple", "grape", "rice", "lettuce"}
    for table in STAGE_TABLES.values():
        assert table.source and table.start
        assert table.stages[0].gdd == 0.0
        assert all(s.name_en and s.name_ja for s in table.stages)


def test_apple_bud_stages_map_to_the_bbch_codes_frost_tables_use() -> None:
    """The frost-relevant bud stages carry the BBCH codes of the pome-fruit scale."""
    assert APPLE_BUD_BBCH[StageKey.SILVER_TIP] == (1, 7)
    assert APPLE_BUD_BBCH[StageKey.GREEN_TIP] == (9, 10)
    assert APPLE_BUD_BBCH[StageKey.HALF_INCH_GREEN] == (53, 54)
    assert APPLE_BUD_BBCH[StageKey.TIGHT_CLUSTER] == (56, 56)
    assert APPLE_BUD_BBCH[StageKey.FIRST_PINK][0] == 57
    assert APPLE_BUD_BBCH[StageKey.FULL_PINK][0] == 59
    assert APPLE_BUD_BBCH[StageKey.FIRST_BLOOM] == (60, 60)
    assert APPLE_BUD_BBCH[StageKey.FULL_BLOOM] == (65, 65)
    assert APPLE_BUD_BBCH[StageKey.PETAL_FALL] == (67, 69)
    apple = stage_table("apple")
    for stage in apple.stages[1:]:
        assert stage.bbch_span == APPLE_BUD_BBCH[stage.key]


def test_stage_keys_are_language_independent_strings() -> None:
    """Keys are plain lowercase strings usable in an API, whatever the display language."""
    assert StageKey.GREEN_TIP == "green_tip"
    assert StageKey("full_bloom") is StageKey.FULL_BLOOM


def test_apple_stage_at_thresholds() -> None:
    """A stage starts exactly at its threshold; just below it the previous stage holds."""
    apple = stage_table("apple")
    green = next(s for s in apple.stages if s.key is StageKey.GREEN_TIP)
    assert stage_at("apple", 0.0).key is StageKey.DORMANT
    assert stage_at("apple", green.gdd).key is StageKey.GREEN_TIP
    assert stage_at("apple", green.gdd - 0.01).key is StageKey.SILVER_TIP
    assert stage_at("apple", 10_000.0).key is StageKey.PETAL_FALL
    # 121 °F·d converted to the table's °C·d scale.
    assert green.gdd == pytest.approx(121.0 * 5 / 9)


def test_apple_table_uses_the_crop_thermal_thresholds() -> None:
    """The apple table is on the apple GDD scale (43 °F base, 86 °F cap)."""
    assert stage_table("apple").thermal == CROP_THERMAL["apple"]
    assert stage_table("apple").thermal.base_c == pytest.approx(6.111, abs=1e-3)


def test_rice_reaches_maturity_when_the_sum_since_heading_reaches_1050() -> None:
    """Days at a 25 °C mean after heading: maturity on the 42nd day (42 x 25 = 1050)."""
    stages = stages_from_temperatures("rice", [20.0] * 50, [30.0] * 50)
    keys = [s.key for s in stages]
    assert keys.index(StageKey.MATURITY) == 41
    assert set(keys[:41]) == {StageKey.HEADING}


def test_series_returns_one_stage_per_value() -> None:
    """The series lookup agrees with single lookups."""
    values = [0.0, 500.0, 1300.0, 3000.0]
    assert [s.key for s in stage_series("grape", values)] == [
        stage_at("grape", v).key for v in values
    ]


def test_unknown_crop_and_bad_sums_are_refused() -> None:
    """Unknown crops, negative and missing sums raise ValueError."""
    with pytest.raises(ValueError, match="known: apple"):
        stage_at("wheat", 10.0)
    with pytest.raises(ValueError, match="negative"):
        stage_at("apple", -1.0)
    with pytest.raises(ValueError, match="finite"):
        stage_series("apple", [np.nan])


def test_a_table_with_decreasing_thresholds_is_refused() -> None:
    """Thresholds that go down would make the stage at a sum ambiguous."""
    a = Stage(StageKey.DORMANT, 0, (0, 0), "a", "a", 0.0)
    b = Stage(StageKey.FLOWERING, 65, (65, 65), "b", "b", 10.0)
    c = Stage(StageKey.VERAISON, 83, (81, 85), "c", "c", 5.0)
    with pytest.raises(ValueError, match="not decrease"):
        StageTable("x", CROP_THERMAL["grape"], "x", (a, b, c), "x", confirmed=False)


@given(
    st.sampled_from(sorted(STAGE_TABLES)),
    st.lists(st.floats(min_value=0.0, max_value=5000.0), min_size=1, max_size=50),
)
def test_stages_never_go_backwards_as_heat_accumulates(crop: str, steps: list[float]) -> None:
    """Along a non-decreasing sum the BBCH stage never decreases."""
    cumulative = np.cumsum(steps)
    codes = [s.bbch for s in stage_series(crop, cumulative)]
    assert codes == sorted(codes)

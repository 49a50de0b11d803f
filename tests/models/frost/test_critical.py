"""Apple bud critical temperatures (WSU EB0913) and the warning levels they give."""

from __future__ import annotations

import math

import pytest

from models.frost.critical import (
    APPLE,
    Stage,
    WarningLevel,
    critical_temperature,
    fahrenheit_to_celsius,
    frost_warning,
)


def test_every_stage_has_a_90_percent_kill_below_its_10_percent_kill() -> None:
    """Nine stages; killing 90 % of buds always takes a colder night than killing 10 %."""
    assert [s.value for s in APPLE] == [
        "silver_tip",
        "green_tip",
        "half_inch_green",
        "tight_cluster",
        "first_pink",
        "full_pink",
        "first_bloom",
        "full_bloom",
        "post_bloom",
    ]
    for crit in APPLE.values():
        assert crit.kill_90 < crit.kill_10


def test_buds_get_tenderer_as_they_develop() -> None:
    """The 10 % kill temperature never falls from one stage to the next."""
    kills = [c.kill_10 for c in APPLE.values()]
    assert kills == sorted(kills)
    assert APPLE[Stage.SILVER_TIP].kill_10 < APPLE[Stage.FULL_BLOOM].kill_10


def test_lookups_convert_the_published_fahrenheit() -> None:
    """Full bloom: 28 °F and 25 °F, i.e. about -2.2 °C and -3.9 °C."""
    full = critical_temperature("full_bloom")
    assert full.kill_10 == pytest.approx(fahrenheit_to_celsius(full.kill_10_f))
    assert full.kill_10 == pytest.approx(-2.22, abs=0.01)
    assert full.kill_90 == pytest.approx(-3.89, abs=0.01)
    assert critical_temperature(Stage.SILVER_TIP).kill_90 == pytest.approx(-16.67, abs=0.01)


@pytest.mark.parametrize("stage", list(Stage))
def test_warning_levels_around_the_thresholds(stage: Stage) -> None:
    """Above the 10 % kill: none; between: warning; below the 90 % kill: severe."""
    crit = APPLE[stage]
    assert frost_warning(crit.kill_10 + 0.1, stage) is None
    assert frost_warning(crit.kill_10 - 0.1, stage) is WarningLevel.WARNING
    assert frost_warning(crit.kill_90 + 0.1, stage) is WarningLevel.WARNING
    assert frost_warning(crit.kill_90 - 0.1, stage) is WarningLevel.SEVERE
    assert frost_warning(math.nan, stage) is None


def test_same_low_warns_at_bloom_but_not_at_silver_tip() -> None:
    """-3 °C threatens open blossoms, not dormant-looking buds."""
    assert frost_warning(-3.0, "silver_tip") is None
    assert frost_warning(-3.0, "full_bloom") is WarningLevel.WARNING
    assert frost_warning(-5.0, "full_bloom") is WarningLevel.SEVERE


def test_unknown_stage_names_the_stages() -> None:
    """A typo gets the list of stage keys."""
    with pytest.raises(ValueError, match="half_inch_green"):
        frost_warning(-1.0, "half-inch green")

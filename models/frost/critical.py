"""Critical temperatures of apple blossom buds by stage, and the frost warning level they imply.

Source: Ballard, J. K., Proebsting, E. L. and Tukey, R. B., "Critical temperatures for blossom
buds: Apple", Washington State University Extension Bulletin EB0913 (1982). The values are the
average temperatures (°F) that killed 10 % and 90 % of buds held 30 minutes at them (WSU
Prosser). EB0913 itself was not consulted: the table here is as reproduced, identically, by
Michigan State University Extension ("Critical spring temperatures for tree fruit bud
development stages", which names WSU EB0913 as its source) and Penn State Extension ("Orchard
frost: critical temperatures for various fruits"). They are bud temperatures; a screen
thermometer at 1.5-2 m can read warmer than buds on a clear, calm night (docs/frost.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """Apple blossom bud stages, in the order they develop."""

    SILVER_TIP = "silver_tip"
    GREEN_TIP = "green_tip"
    HALF_INCH_GREEN = "half_inch_green"
    TIGHT_CLUSTER = "tight_cluster"
    FIRST_PINK = "first_pink"
    FULL_PINK = "full_pink"
    FIRST_BLOOM = "first_bloom"
    FULL_BLOOM = "full_bloom"
    POST_BLOOM = "post_bloom"


class WarningLevel(StrEnum):
    """How bad the night can be: below the 10 % kill or below the 90 % kill temperature."""

    WARNING = "warning"
    SEVERE = "severe"


LEVEL_TEXT: dict[WarningLevel, str] = {
    WarningLevel.WARNING: "霜注意 / frost warning (10 % bud kill possible)",
    WarningLevel.SEVERE: "霜警戒 / severe frost (90 % bud kill possible)",
}


def fahrenheit_to_celsius(value: float) -> float:
    """°F as °C."""
    return (value - 32.0) * 5.0 / 9.0


@dataclass(frozen=True, slots=True)
class CriticalTemperature:
    """The temperatures (°C) at which 10 % and 90 % of buds of one stage are killed."""

    stage: Stage
    kill_10_f: float
    kill_90_f: float

    @property
    def kill_10(self) -> float:
        """10 % kill temperature, °C."""
        return fahrenheit_to_celsius(self.kill_10_f)

    @property
    def kill_90(self) -> float:
        """90 % kill temperature, °C."""
        return fahrenheit_to_celsius(self.kill_90_f)


# WSU EB0913 (Ballard, Proebsting & Tukey 1982), °F: 10 % kill, 90 % kill.
APPLE: dict[Stage, CriticalTemperature] = {
    c.stage: c
    for c in (
        CriticalTemperature(Stage.SILVER_TIP, 15.0, 2.0),
        CriticalTemperature(Stage.GREEN_TIP, 18.0, 10.0),
        CriticalTemperature(Stage.HALF_INCH_GREEN, 23.0, 15.0),
        CriticalTemperature(Stage.TIGHT_CLUSTER, 27.0, 21.0),
        CriticalTemperature(Stage.FIRST_PINK, 28.0, 24.0),
        CriticalTemperature(Stage.FULL_PINK, 28.0, 25.0),
        CriticalTemperature(Stage.FIRST_BLOOM, 28.0, 25.0),
        CriticalTemperature(Stage.FULL_BLOOM, 28.0, 25.0),
        CriticalTemperature(Stage.POST_BLOOM, 28.0, 25.0),
    )
}


def critical_temperature(stage: Stage | str) -> CriticalTemperature:
    """The critical temperatures of a stage (ValueError naming the stages when unknown)."""
    try:
        return APPLE[Stage(stage)]
    except ValueError:
        names = ", ".join(s.value for s in Stage)
        raise ValueError(f"unknown apple bud stage {stage!r}; one of: {names}") from None


def frost_warning(forecast_low: float, stage: Stage | str) -> WarningLevel | None:
    """SEVERE below the 90 % kill, WARNING below the 10 % kill temperature, else None.

    `forecast_low` is the lower bound of the forecast interval (°C); NaN gives None.
    """
    crit = critical_temperature(stage)
    if math.isnan(forecast_low):  # no forecast, no warning
        return None
    if forecast_low < crit.kill_90:
        return WarningLevel.SEVERE
    if forecast_low < crit.kill_10:
        return WarningLevel.WARNING
    return None

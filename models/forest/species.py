"""The tree species of the platform: one table for the yield tables, the API and the simulator.

The growth curves are regional yield-table curves (m³/ha by age, medium site) of the order of
Nagano's tables: larch about 350 m³/ha and sugi about 500 m³/ha at 50 years. They are
illustrative, not fitted. The cambial season, leaf period and water use drive the simulated
stands (`simulators.forest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.forest.growth import GrowthCurve


class Species(StrEnum):
    """Tree species a stand can be registered with."""

    LARCH = "larch"
    SUGI = "sugi"


@dataclass(frozen=True, slots=True)
class SpeciesTraits:
    """Yield-table curve, cambial season, leaf period (days of year) and water use of a species."""

    yield_table: GrowthCurve
    growth_start_doy: int
    growth_end_doy: int
    leaf_on_doy: int
    leaf_off_doy: int
    kc_leaf: float
    kc_bare: float
    interception: float


SPECIES: dict[Species, SpeciesTraits] = {
    # Japanese larch is deciduous: needles from early May to early November.
    Species.LARCH: SpeciesTraits(
        GrowthCurve(500.0, 0.04, 2.5), 135, 240, 125, 305, 0.9, 0.25, 0.15
    ),
    Species.SUGI: SpeciesTraits(GrowthCurve(1000.0, 0.03, 2.8), 105, 275, 1, 366, 0.85, 0.85, 0.25),
}

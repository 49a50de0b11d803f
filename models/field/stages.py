"""Growth stages (生育ステージ) on the BBCH scale from thermal time accumulated since a start.

Each crop has one table: its thermal thresholds (which may differ from the crop's general GDD
thresholds in `thermal.py`, because each table was published on its own scale), where the sum
starts, its stages with their BBCH codes and names, and its source. A stage is reached when
the cumulative degree days reach its threshold; the stage at a sum is the last one reached.

BBCH codes: Meier (ed.) 2001, "Growth stages of mono- and dicotyledonous plants. BBCH
Monograph", Federal Biological Research Centre for Agriculture and Forestry (apple: pome fruit
scale; grape: Lorenz et al. 1995; rice: Lancashire et al. 1991).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from models.field.thermal import CROP_THERMAL, CropThermal, GddMethod, daily_gdd


class StageKey(StrEnum):
    """A stage's key, the same in every language (the names are in `Stage`)."""

    DORMANT = "dormant"
    SILVER_TIP = "silver_tip"
    GREEN_TIP = "green_tip"
    HALF_INCH_GREEN = "half_inch_green"
    TIGHT_CLUSTER = "tight_cluster"
    FIRST_PINK = "first_pink"
    FULL_PINK = "full_pink"
    FIRST_BLOOM = "first_bloom"
    FULL_BLOOM = "full_bloom"
    PETAL_FALL = "petal_fall"
    FLOWERING = "flowering"
    VERAISON = "veraison"
    HEADING = "heading"
    MATURITY = "maturity"
    TRANSPLANTED = "transplanted"


@dataclass(frozen=True, slots=True)
class Stage:
    """One growth stage: its key, BBCH code (and the span it covers), names, threshold."""

    key: StageKey
    bbch: int
    bbch_span: tuple[int, int]
    name_en: str
    name_ja: str
    gdd: float


@dataclass(frozen=True, slots=True)
class StageTable:
    """A crop's stage table on its own thermal scale, with its start and its source.

    `confirmed` is False when a threshold could not be checked against the published text;
    docs/field.md says which.
    """

    crop: str
    thermal: CropThermal
    start: str
    stages: tuple[Stage, ...]
    source: str
    confirmed: bool

    def __post_init__(self) -> None:
        """Thresholds must start at 0 and not decrease, so the stage at a sum is defined."""
        gdds = [s.gdd for s in self.stages]
        if not gdds or gdds[0] != 0.0 or any(b < a for a, b in itertools.pairwise(gdds)):
            raise ValueError(f"{self.crop}: stage thresholds must start at 0 and not decrease")


# Apple bud stages used for frost critical temperatures, with the BBCH codes they span
# (Meier 2001 pome-fruit scale). A frost module looks kill temperatures up by these keys.
# FULL_PINK and FIRST_BLOOM have no threshold of their own in the apple table's source, so
# `stage_at` never returns them; they are listed so that a stage observed in the orchard can
# still be mapped to BBCH.
APPLE_BUD_BBCH: dict[StageKey, tuple[int, int]] = {
    StageKey.SILVER_TIP: (1, 7),
    StageKey.GREEN_TIP: (9, 10),
    StageKey.HALF_INCH_GREEN: (53, 54),
    StageKey.TIGHT_CLUSTER: (56, 56),
    StageKey.FIRST_PINK: (57, 57),
    StageKey.FULL_PINK: (59, 59),
    StageKey.FIRST_BLOOM: (60, 60),
    StageKey.FULL_BLOOM: (65, 65),
    StageKey.PETAL_FALL: (67, 69),
}


def _fdd(value_f_days: float) -> float:
    """Degree days on the Fahrenheit scale to °C·day."""
    return value_f_days * 5.0 / 9.0


def _apple_stage(key: StageKey, en: str, ja: str, f_days: float) -> Stage:
    """An apple bud stage with its BBCH span from APPLE_BUD_BBCH."""
    span = APPLE_BUD_BBCH[key]
    return Stage(key, span[0], span, en, ja, _fdd(f_days))


# McIntosh (Geneva) thresholds in °F·days above 43 °F with an 86 °F cap, from the Cornell
# University / NRCC Climate Smart Farming "Apple Stage / Freeze Damage Probability" tool;
# its green tip (121 °F·d) agrees with UMass Extension's ~120 DD base 43 °F from March 1
# (Clements 2019). The tool's single "bloom" stage is taken as full bloom (BBCH 65).
_APPLE = StageTable(
    crop="apple",
    thermal=CROP_THERMAL["apple"],
    start="March 1 (or the day the chill requirement is met), Northern Hemisphere",
    stages=(
        Stage(StageKey.DORMANT, 0, (0, 0), "Dormant", "休眠期", 0.0),
        _apple_stage(StageKey.SILVER_TIP, "Silver tip", "シルバーチップ期", 85.0),
        _apple_stage(StageKey.GREEN_TIP, "Green tip", "グリーンチップ期（発芽期）", 121.0),
        _apple_stage(StageKey.HALF_INCH_GREEN, "Half-inch green", "ハーフインチグリーン期", 175.0),
        _apple_stage(StageKey.TIGHT_CLUSTER, "Tight cluster", "タイトクラスター期", 233.0),
        _apple_stage(StageKey.FIRST_PINK, "Pink", "ピンク期（花蕾着色期）", 295.0),
        _apple_stage(StageKey.FULL_BLOOM, "Full bloom", "満開期", 382.0),
        _apple_stage(StageKey.PETAL_FALL, "Petal fall", "落花期", 484.0),
    ),
    source="Cornell NRCC Climate Smart Farming apple stage tool, McIntosh (Geneva); Clements 2019",
    confirmed=True,
)

# Grapevine Flowering Veraison model (Parker et al. 2011, Aust. J. Grape Wine Res.
# 17:206-216): base 0 °C, no cap, summed from day 60 (March 1). The base and start are
# confirmed; the species-level critical sums (flowering 1282, veraison 2528 °C·d) are the
# values as recalled from the paper and could not be checked against its text here.
_GRAPE = StageTable(
    crop="grape",
    thermal=CropThermal("grape", base_c=0.0, upper_c=None, source="Parker et al. 2011 (GFV)"),
    start="Day of year 60 (March 1), Northern Hemisphere",
    stages=(
        Stage(StageKey.DORMANT, 0, (0, 0), "Dormant", "休眠期", 0.0),
        Stage(StageKey.FLOWERING, 65, (65, 65), "Flowering (50 %)", "開花期（満開）", 1282.0),
        Stage(StageKey.VERAISON, 83, (81, 85), "Veraison (50 %)", "ベレゾーン期（着色期）", 2528.0),
    ),
    source="Parker et al. 2011, GFV model (species-level F*)",
    confirmed=False,
)

# Nagano Prefecture, Suwa Regional Office (2025), "水稲の収穫遅れに注意": maturity when the sum
# of daily mean temperatures (base 0 °C) from heading (出穂期, 40-50 % of panicles out)
# reaches 1050 °C for Koshihikari (950 Akitakomachi, 1100 Tsukiakari, 920 Yumeshinano).
_RICE = StageTable(
    crop="rice",
    thermal=CropThermal("rice", base_c=0.0, upper_c=None, source="Nagano Pref. 2025 (積算気温)"),
    start="Heading date (出穂期), cultivar Koshihikari",
    stages=(
        Stage(StageKey.HEADING, 55, (55, 59), "Heading", "出穂期", 0.0),
        Stage(StageKey.MATURITY, 89, (87, 89), "Maturity", "成熟期", 1050.0),
    ),
    source="Nagano Prefecture Suwa Regional Office 2025, Koshihikari 1050 °C from heading",
    confirmed=True,
)

# No plain degree-day thresholds for lettuce stages were found (Wurr et al. 1988 state
# maturity in radiation-weighted "effective day-degrees", 589 EDD from transplanting, which is
# not a temperature-only sum). The table holds only its start; the harvest forecaster fits
# maturity per site instead (models/harvest).
_LETTUCE = StageTable(
    crop="lettuce",
    thermal=CROP_THERMAL["lettuce"],
    start="Transplanting (本葉4-5枚)",
    stages=(Stage(StageKey.TRANSPLANTED, 14, (14, 15), "Transplanted", "定植", 0.0),),
    source="none: no published temperature-only stage thresholds found",
    confirmed=False,
)

STAGE_TABLES: dict[str, StageTable] = {t.crop: t for t in (_APPLE, _GRAPE, _RICE, _LETTUCE)}


def stage_table(crop: str) -> StageTable:
    """The stage table of a known crop; ValueError names the known ones otherwise."""
    try:
        return STAGE_TABLES[crop.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(STAGE_TABLES))
        raise ValueError(f"no stage table for crop {crop!r}; known: {known}") from None


def _index(table: StageTable, cumulative: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Index of the last stage reached at each cumulative sum."""
    arr = np.asarray(cumulative, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("cumulative degree days must be finite")
    if np.any(arr < 0.0):
        raise ValueError("cumulative degree days cannot be negative")
    thresholds = np.array([s.gdd for s in table.stages])
    return np.searchsorted(thresholds, arr, side="right") - 1


def stage_at(crop: str, cumulative_gdd: float) -> Stage:
    """The stage a crop has reached after `cumulative_gdd` on its table's thermal scale."""
    table = stage_table(crop)
    return table.stages[int(_index(table, [cumulative_gdd])[0])]


def stage_series(crop: str, cumulative_gdd: npt.ArrayLike) -> list[Stage]:
    """The stage reached at each value of a cumulative degree-day series."""
    table = stage_table(crop)
    return [table.stages[i] for i in _index(table, np.atleast_1d(cumulative_gdd)).tolist()]


def stages_from_temperatures(
    crop: str,
    tmin: npt.ArrayLike,
    tmax: npt.ArrayLike,
    *,
    method: GddMethod = GddMethod.AVERAGE,
) -> list[Stage]:
    """Daily stages from daily min/max temperatures starting on the table's start day."""
    table = stage_table(crop)
    cumulative = np.cumsum(daily_gdd(tmin, tmax, thermal=table.thermal, method=method))
    return stage_series(crop, cumulative)

"""The asset registry entries of a simulated scenario: what each simulated site and sensor is.

Forecast services read the crop and planting dates of a field, a stand's species, age and
inventory, and a bin's item, unit weight and lead time from the registry, not from the
simulator; a backfill or a live fleet writes these descriptions beside the readings.

Planting dates follow the farm simulator: lettuce and rice are planted on the specification's
days of year (a schedule, known in advance, so every planting of each calendar year the window
touches is listed). An apple orchard is not planted each year; its season starts at bloom,
which is what the simulator's crop seasons (and their truth) call the planting date. Bloom
depends on the weather, so it is derived from the same simulated weather, and listed only for
blooms on or before the last simulated day.
"""

from __future__ import annotations

import numpy as np

from core.time import day_number, day_start_ms, from_day_number
from simulators import crops
from simulators.common import jan1, local_day, year_of
from simulators.factory import FactorySpec, Replenishment
from simulators.farm import FieldSpec
from simulators.forest import StandSpec, chapman_richards
from simulators.scenario import Scenario, scenario_sites
from simulators.truth import Crop, SeasonOutcome, Species
from simulators.weather import simulate_weather
from storage.assets import (
    Asset,
    BinAsset,
    FieldAsset,
    SiteAsset,
    SiteKind,
    StandAsset,
)
from storage.records import RecordKind, WorkRecord

# Who the simulators are in the registry's history and on their work records.
SIMULATOR = "simulator"
KG_PER_T = 1000.0

GATEWAY = "stock-gateway"

# Municipality of each site id's first part: (Japanese, English).
PLACES: dict[str, tuple[str, str]] = {
    "kawakami": ("川上村", "Kawakami"),
    "suzaka": ("須坂市", "Suzaka"),
    "nagano": ("長野市", "Nagano"),
    "azumino": ("安曇野市", "Azumino"),
    "minamimaki": ("南牧村", "Minamimaki"),
    "karuizawa": ("軽井沢町", "Karuizawa"),
    "ina": ("伊那市", "Ina"),
    "kiso": ("木曽町", "Kiso"),
}
CROP_NAMES: dict[Crop, str] = {Crop.LETTUCE: "レタス", Crop.APPLE: "りんご", Crop.RICE: "水稲"}
SPECIES_NAMES: dict[Species, str] = {Species.LARCH: "カラマツ", Species.SUGI: "スギ"}

# Factories have no climate in their specification: (ja, en, latitude, longitude, altitude m).
FACTORY_SITES: dict[str, tuple[str, str, float, float, float]] = {
    "suwa-precision": ("諏訪精密工業", "Suwa Precision", 36.04, 138.11, 760.0),
    "ina-electronics": ("伊那エレクトロニクス", "Ina Electronics", 35.83, 137.95, 630.0),
    "matsumoto-foods": ("松本食品", "Matsumoto Foods", 36.24, 137.97, 590.0),
}
ITEMS: dict[str, str] = {
    "screws-m3": "M3 screws",
    "bearings-608": "608 ball bearings",
    "shafts-8mm": "8 mm shafts",
    "housings": "motor housings",
    "pcb-main": "main boards",
    "connectors": "board connectors",
    "enclosures": "enclosures",
    "cables": "cable assemblies",
    "flour-bags": "flour, 25 kg bags",
    "jars": "glass jars",
    "lids": "jar lids",
    "cartons": "shipping cartons",
}
# Typical holdings: Kawakami lettuce farms of a few hectares, small orchards and paddies.
FIELD_AREA_HA: dict[Crop, float] = {Crop.LETTUCE: 2.5, Crop.APPLE: 0.8, Crop.RICE: 1.2}
STAND_AREA_HA: dict[Species, float] = {Species.LARCH: 12.0, Species.SUGI: 8.0}


def _place(site: str) -> tuple[str, str, str]:
    """Japanese and English municipality of a site id, and the rest of the id (its number)."""
    head, _, rest = site.partition("-")
    ja, en = PLACES.get(head, (head, head.capitalize()))
    return ja, en, rest


def _field_site(spec: FieldSpec) -> SiteAsset:
    """A farm site's description, from its field's climate."""
    ja, en, number = _place(spec.site)
    climate = spec.climate
    return SiteAsset(
        spec.site,
        SiteKind.FARM,
        f"{ja} {CROP_NAMES[spec.crop]}圃場 {number}".strip(),
        f"{en} {spec.crop.value} field {number}".strip(),
        climate.latitude,
        climate.longitude,
        climate.elevation_m,
    )


def _stand_site(spec: StandSpec) -> SiteAsset:
    """A forest site's description, from its stand's climate."""
    ja, en, number = _place(spec.site)
    climate = spec.climate
    return SiteAsset(
        spec.site,
        SiteKind.FOREST,
        f"{ja} {SPECIES_NAMES[spec.species]}林 {number}".strip(),
        f"{en} {spec.species.value} stand {number}".strip(),
        climate.latitude,
        climate.longitude,
        climate.elevation_m,
    )


def _factory_site(spec: FactorySpec) -> SiteAsset:
    """A factory's description; numbered copies are further plants at the same place."""
    base = next((name for name in FACTORY_SITES if spec.site.startswith(name)), None)
    if base is None:
        ja, en, lat, lon, alt = spec.site, spec.site, 36.0, 138.0, 700.0
    else:
        ja, en, lat, lon, alt = FACTORY_SITES[base]
    plant = spec.site[len(base) :].lstrip("-") if base else ""
    if plant:
        ja, en = f"{ja} 第{plant}工場", f"{en} plant {plant}"
    return SiteAsset(spec.site, SiteKind.FACTORY, ja, en, lat, lon, alt)


def _days(start_ms: int, duration_ms: int) -> tuple[int, int]:
    """First and last local (JST) day of the window, as days since the epoch."""
    return int(local_day(start_ms)), int(local_day(start_ms + duration_ms - 1))


def _date(day: int) -> str:
    """ISO date of a day number since the epoch."""
    return from_day_number(day).isoformat()


def plantings(
    spec: FieldSpec, start_ms: int, duration_ms: int, seed: np.random.SeedSequence
) -> tuple[str, ...]:
    """Planting (apple: bloom) dates of a field in the window, as the farm simulator has them."""
    first, last = _days(start_ms, duration_ms)
    if spec.crop is not Crop.APPLE:
        years = range(int(year_of(np.array([first]))[0]), int(year_of(np.array([last]))[0]) + 1)
        return tuple(_date(jan1(y) + doy - 1) for y in years for doy in spec.plantings)
    # The farm simulator draws its weather first from the site's generator: the same seed
    # gives the same weather, hence the same bloom dates.
    weather = simulate_weather(spec.climate, start_ms, duration_ms, np.random.default_rng(seed))
    daily = weather.daily
    seasons = crops.phenology(spec.crop, daily, spec.plantings)
    blooms = [int(daily.day[s.start]) for s in seasons]
    return tuple(_date(day) for day in blooms if day <= last)


def _field(spec: FieldSpec, dates: tuple[str, ...]) -> FieldAsset:
    """The field asset of a farm site; its device is the field's name."""
    return FieldAsset(
        spec.site, spec.name, spec.name, spec.crop.value, FIELD_AREA_HA[spec.crop], dates
    )


def _stand(spec: StandSpec, start_ms: int) -> StandAsset:
    """The stand asset: age and inventory volume on the window's first day.

    The specification gives the age on 1 January of the first simulated year; the part of
    that year already gone by the first day is added.
    """
    first = int(local_day(start_ms))
    year = int(year_of(np.array([first]))[0])
    elapsed = (first - jan1(year)) / (jan1(year + 1) - jan1(year))
    age = spec.age + elapsed
    return StandAsset(
        spec.site,
        spec.name,
        spec.name,
        spec.species.value,
        STAND_AREA_HA[spec.species],
        round(age, 4),
        _date(first),
        volume_m3_ha=round(float(chapman_richards(age, spec.species)), 2),
        dbh_cm=spec.dbh_cm,
    )


def _bins(spec: FactorySpec) -> list[BinAsset]:
    """One bin asset per bin of a factory, all read by the factory's stock gateway."""
    out = []
    for b in spec.bins:
        ordered = b.policy is Replenishment.REORDER_POINT
        out.append(
            BinAsset(
                spec.site,
                b.name,
                GATEWAY,
                ITEMS.get(b.name, b.name),
                b.unit_kg,
                b.capacity,
                f"{b.name}_weight",
                f"{b.name}_count",
                b.lead_time_h,
                b.reorder_point if ordered else None,
            )
        )
    return out


def scenario_assets(scenario: Scenario) -> list[Asset]:
    """Every site, field, stand and bin description of a scenario, in simulation order."""
    # The same sites and seeds as `simulate_sites`, so that derived dates match the simulation.
    sites = scenario_sites(scenario)
    window = (scenario.start_ms, scenario.duration_ms)
    out: list[Asset] = []
    for spec, seed in sites.farms:
        out += [_field_site(spec), _field(spec, plantings(spec, *window, seed))]
    for stand, _ in sites.stands:
        out += [_stand_site(stand), _stand(stand, scenario.start_ms)]
    for factory, _ in sites.factories:
        out += [_factory_site(factory), *_bins(factory)]
    return out


def season_records(seasons: list[SeasonOutcome], until_ms: int) -> list[WorkRecord]:
    """A planting and a harvest record of every simulated season harvested before `until_ms`.

    The harvest is recorded on the day of maturity with what the field yielded in kg (the
    simulated t/ha times the field's registered area); a season still growing is not recorded
    as harvested. Ids come from what the records say, so a second backfill rewrites them.
    """
    out: list[WorkRecord] = []
    for s in seasons:
        harvest_ms = day_start_ms(day_number(s.maturity))
        if harvest_ms >= until_ms:
            continue
        kg = round(s.yield_t_ha * FIELD_AREA_HA[s.crop] * KG_PER_T, 1)
        out += [
            WorkRecord(
                s.site,
                s.field,
                RecordKind.PLANTING,
                day_start_ms(day_number(s.planted)),
                by=SIMULATOR,
            ).with_id(),
            WorkRecord(
                s.site,
                s.field,
                RecordKind.HARVEST,
                harvest_ms,
                quantity=kg,
                unit="kg",
                by=SIMULATOR,
            ).with_id(),
        ]
    return out

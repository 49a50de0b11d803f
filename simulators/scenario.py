"""A scenario: which farms, forest stands and factories to simulate, over what time, with what seed.

Sites beyond the built-in specifications reuse them under numbered names; every site gets its
own child seed, so adding a factory never changes the farms' data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from simulators.climate import Climate
from simulators.common import SensorSeries
from simulators.events import WeatherEvent, apply_events
from simulators.factory import DEFAULT_FACTORIES, FactorySpec, simulate_factory
from simulators.farm import DEFAULT_FIELDS, FieldSpec, simulate_farm
from simulators.forest import DEFAULT_STANDS, StandSpec, simulate_forest
from simulators.truth import AnomalyEvent, SeasonOutcome, StandYear, write_truth
from simulators.weather import Weather, simulate_weather

_Spec = TypeVar("_Spec")


@dataclass(frozen=True, slots=True)
class Scenario:
    """Counts of each kind of site, the simulated period and the master seed."""

    farms: int
    forests: int
    factories: int
    start_ms: int
    duration_ms: int
    step_ms: int
    seed: int
    # Weather placed on purpose (heavy rain over a stand, a frost night in an orchard).
    events: tuple[WeatherEvent, ...] = ()
    # The farms by site id among the built-in fields (as many as `farms`); none: the first ones.
    farm_sites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a scenario that cannot be simulated."""
        if min(self.farms, self.forests, self.factories) < 0:
            raise ValueError("site counts cannot be negative")
        known = {f.site for f in DEFAULT_FIELDS}
        if self.farm_sites and (
            len(self.farm_sites) != self.farms or not set(self.farm_sites) <= known
        ):
            raise ValueError(f"farm_sites must name {self.farms} of the built-in fields {known}")
        if self.duration_ms <= 0 or self.step_ms <= 0:
            raise ValueError("duration and sampling interval must be positive")


@dataclass(frozen=True, slots=True, eq=False)
class SiteData:
    """One simulated site: its id, the device that carries its sensors, and their series."""

    site: str
    device: str
    series: list[SensorSeries]

    @property
    def readings(self) -> int:
        """How many readings the site's sensors took."""
        return sum(len(s.ts_ms) for s in self.series)


@dataclass(slots=True)
class Truth:
    """Everything the simulation knows that the sensors do not say."""

    anomalies: list[AnomalyEvent] = field(default_factory=list)
    seasons: list[SeasonOutcome] = field(default_factory=list)
    stands: list[StandYear] = field(default_factory=list)

    def write(self, directory: Path) -> list[Path]:
        """One CSV file per kind of truth."""
        directory.mkdir(parents=True, exist_ok=True)
        return write_truth(directory, self.anomalies, self.seasons, self.stands)


def _numbered(specs: Sequence[_Spec], count: int) -> list[_Spec]:
    """`count` specifications: the built-in ones, then copies with numbered site ids."""
    out = []
    for i in range(count):
        spec = specs[i % len(specs)]
        if i >= len(specs):
            spec = dataclasses.replace(spec, site=f"{spec.site}-{i // len(specs) + 1}")  # type: ignore[type-var]
        out.append(spec)
    return out


@dataclass(frozen=True, slots=True)
class Sites:
    """A scenario's sites by kind, in simulation order, each specification with its own seed."""

    farms: list[tuple[FieldSpec, np.random.SeedSequence]]
    stands: list[tuple[StandSpec, np.random.SeedSequence]]
    factories: list[tuple[FactorySpec, np.random.SeedSequence]]

    def names(self) -> list[str]:
        """Site ids in simulation order."""
        groups = (self.farms, self.stands, self.factories)
        return [spec.site for group in groups for spec, _ in group]


def _seeded(
    specs: Sequence[_Spec], count: int, seed: np.random.SeedSequence
) -> list[tuple[_Spec, np.random.SeedSequence]]:
    """`count` numbered specifications, each paired with a child seed of `seed`."""
    chosen = _numbered(specs, count)
    return list(zip(chosen, seed.spawn(len(chosen)), strict=True))


def _farm_specs(scenario: Scenario) -> Sequence[FieldSpec]:
    """The built-in fields the scenario names, in its order, or all of them."""
    if not scenario.farm_sites:
        return DEFAULT_FIELDS
    by_site = {f.site: f for f in DEFAULT_FIELDS}
    return [by_site[site] for site in scenario.farm_sites]


def scenario_sites(scenario: Scenario) -> Sites:
    """The scenario's sites and their seeds: the one layout every derived view must share."""
    seeds = np.random.SeedSequence(scenario.seed).spawn(3)
    return Sites(
        _seeded(_farm_specs(scenario), scenario.farms, seeds[0]),
        _seeded(DEFAULT_STANDS, scenario.forests, seeds[1]),
        _seeded(DEFAULT_FACTORIES, scenario.factories, seeds[2]),
    )


def _weather(
    scenario: Scenario, site: str, climate: Climate, rng: np.random.Generator
) -> Weather | None:
    """The site's weather with the scenario's events on it; None (simulated as usual) when the
    scenario places none there, which draws the same numbers from `rng` either way."""
    events = [e for e in scenario.events if e.site == site]
    if not events:
        return None
    weather = simulate_weather(climate, scenario.start_ms, scenario.duration_ms, rng)
    return apply_events(weather, events)


def simulate_sites(scenario: Scenario, truth: Truth) -> Iterator[SiteData]:
    """Simulate one site after another (so memory holds one site), collecting truth."""
    sites = scenario_sites(scenario)
    period = (scenario.start_ms, scenario.duration_ms, scenario.step_ms)
    for spec, seed in sites.farms:
        rng = np.random.default_rng(seed)
        weather = _weather(scenario, spec.site, spec.climate, rng)
        farm = simulate_farm(spec, *period, rng, weather=weather)
        truth.seasons.extend(farm.seasons)
        yield SiteData(spec.site, spec.name, farm.series)
    for stand_spec, seed in sites.stands:
        rng = np.random.default_rng(seed)
        weather = _weather(scenario, stand_spec.site, stand_spec.climate, rng)
        stand = simulate_forest(stand_spec, *period, rng, weather=weather)
        truth.stands.extend(stand.years)
        yield SiteData(stand_spec.site, stand_spec.name, stand.series)
    for factory_spec, seed in sites.factories:
        factory = simulate_factory(factory_spec, *period, np.random.default_rng(seed))
        truth.anomalies.extend(factory.anomalies)
        yield SiteData(factory_spec.site, "stock-gateway", factory.series)

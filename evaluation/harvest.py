"""Daily weather and season truth of simulated farms, for scoring the harvest forecaster."""

from __future__ import annotations

from core.time import MS_PER_DAY, day_number
from models.harvest.types import FieldWeather, SeasonRecord
from simulators.common import day_start_ms, jan1
from simulators.farm import DEFAULT_FIELDS, simulate_farm


def simulate_dataset(
    seed: int, first_year: int, years: int
) -> tuple[dict[str, FieldWeather], list[SeasonRecord]]:
    """Daily weather (with soil moisture) and season truth of the default simulated fields."""
    start = int(day_start_ms(jan1(first_year)))
    duration = (jan1(first_year + years) - jan1(first_year)) * MS_PER_DAY
    weather: dict[str, FieldWeather] = {}
    seasons: list[SeasonRecord] = []
    for i, spec in enumerate(DEFAULT_FIELDS):
        result = simulate_farm(spec, start, duration, MS_PER_DAY, seed * 100 + i)
        daily = result.weather.daily
        weather[spec.name] = FieldWeather(
            spec.name,
            int(daily.day[0]),
            daily.tmin.copy(),
            daily.tmax.copy(),
            daily.radiation_mj.copy(),
            daily.rain_mm.copy(),
            result.soil_moisture_daily.copy(),
        )
        seasons += [
            SeasonRecord(
                field_id=spec.name,
                crop=s.crop.value,
                planting=day_number(s.planted),
                maturity=day_number(s.maturity),
                yield_value=s.yield_t_ha,
            )
            for s in result.seasons
        ]
    return weather, seasons

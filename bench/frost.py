"""Frost forecast against persistence and the physical rule on nights the model did not train on.

Usage: python bench/frost.py

Sites:
- Greensboro, NC (NREL TMY3, tests/data/frost/): DEVELOPMENT DATA. The model's design and
  settings were chosen while looking at this year's later months, so its figures here are not
  a held-out result. Split in time: trained on January-August, scored on September-December.
  A TMY year splices months of different real years: a night that crosses a month boundary, and
  persistence on the first night of a month, mix two years; those nights are also left out in
  a second line.
- Suzaka apple orchard, simulated (simulators.weather + simulators.stations): seeds 303 and 404
  were not used while developing. Scored (a) in time, January-August / September-December of
  seed 303, and (b) across seeds, the whole year of seed 303 / the whole year of seed 404.

Persistence is last night's minimum; its interval is the 10-90 % spread of its errors on the
training nights. The physical rule is Craddock & Pritchard's formula, with K and its spread
fitted on the training nights ("rule"), and with the published K = 0 and K range ("rule, K=0").
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Allow running as a plain script from the repository root without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.time import JST, MS_PER_HOUR
from models.frost.csvio import read_weather
from models.frost.features import night_rows
from models.frost.forecaster import FrostForecaster
from models.frost.hourly import HOURS, HourlyWeather, from_readings
from models.frost.physical import PhysicalRule
from simulators.farm import SUZAKA
from simulators.stations import weather_station
from simulators.weather import simulate_weather

TMY3 = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "frost" / "greensboro-nc-tmy3.csv"
)
SIM_SEED_A, SIM_SEED_B = 303, 404
TEST_FROM = dt.date(2001, 9, 1)  # TMY3 is re-dated to 2001
SIM_TEST_FROM = dt.date(2025, 9, 1)
COVERAGE = 0.8


@dataclass(frozen=True, slots=True)
class Scores:
    """One method's scores on one test set."""

    n: int
    mae: float
    rmse: float
    coverage: float
    frost: int
    hit: float
    false_alarm: float
    hit_low: float
    false_alarm_low: float


def simulated_site(seed: int, year: int = 2025) -> HourlyWeather:
    """Top-of-hour readings of a simulated Suzaka orchard mast for one year (JST wall clock)."""
    start = dt.datetime(year, 1, 1, tzinfo=JST)
    start_ms = int(start.timestamp() * 1000)
    hours = (dt.datetime(year + 1, 1, 1, tzinfo=JST) - start) // dt.timedelta(hours=1)
    weather = simulate_weather(SUZAKA, start_ms, hours * MS_PER_HOUR, seed)
    ts = start_ms + MS_PER_HOUR * np.arange(hours, dtype=np.int64)
    readings = {s.sensor: s.values for s in weather_station(weather, ts, MS_PER_HOUR, seed + 1)}
    times = [(start + dt.timedelta(hours=int(i))).replace(tzinfo=None) for i in range(hours)]
    names = ("air_temperature", "relative_humidity", "wind_speed", "solar_radiation")
    values = {n: [float(v) for v in readings[n]] for n in names}
    return from_readings(times, values, names)


def split(w: HourlyWeather, first_test_day: dt.date) -> tuple[HourlyWeather, HourlyWeather]:
    """The days before `first_test_day` and the days from it on."""
    cut = (first_test_day - w.first_day).days * HOURS

    def part(a: int, b: int) -> HourlyWeather:
        """Hours [a, b) as their own grid."""
        return HourlyWeather(
            w.first_day + dt.timedelta(days=a // HOURS),
            *(getattr(w, s)[a:b] for s in _SERIES),
            columns=w.columns,
        )

    return part(0, cut), part(cut, len(w.air_temperature))


_SERIES = ("air_temperature", "dew_point", "relative_humidity", "wind_speed", "solar_radiation")


def score(
    forecast: np.ndarray, low: np.ndarray, high: np.ndarray, observed: np.ndarray, use: np.ndarray
) -> Scores:
    """MAE, RMSE, interval coverage and frost-night detection (observed minimum < 0 °C)."""
    ok = use & np.isfinite(observed) & np.isfinite(forecast)
    f, lo, hi, o = forecast[ok], low[ok], high[ok], observed[ok]
    err = f - o
    frost = o < 0.0

    def rates(alarm: np.ndarray) -> tuple[float, float]:
        """Hit rate and false-alarm ratio of an alarm."""
        hit = float(np.mean(alarm[frost])) if frost.any() else np.nan
        far = float(np.mean(~frost[alarm])) if alarm.any() else np.nan
        return hit, far

    hit, far = rates(f < 0.0)
    hit_low, far_low = rates(lo < 0.0)
    return Scores(
        n=int(ok.sum()),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        coverage=float(np.mean((o >= lo) & (o <= hi))),
        frost=int(frost.sum()),
        hit=hit,
        false_alarm=far,
        hit_low=hit_low,
        false_alarm_low=far_low,
    )


def evaluate(train: HourlyWeather, test: HourlyWeather, *, month_edges: bool) -> None:
    """Fit on `train`, score every method on `test` and print the table."""
    t0 = time.perf_counter()
    model = FrostForecaster(coverage=COVERAGE).fit(train)
    fit_s = time.perf_counter() - t0
    rows = night_rows(test, model.issue_hours_, model.morning_hour)
    fc, lo, hi, method = model.forecast_rows(rows)
    train_rows = night_rows(train, model.issue_hours_, model.morning_hour)
    p_err = train_rows.observed - train_rows.persistence
    p_lo, p_hi = np.nanquantile(p_err, [(1 - COVERAGE) / 2, (1 + COVERAGE) / 2])
    r_fc, r_lo, r_hi = model.rule_.predict(rows.t_midday, rows.td_midday)
    r0_fc, r0_lo, r0_hi = PhysicalRule().predict(rows.t_midday, rows.td_midday)
    pers = rows.persistence
    # Every method is scored on the same rows: those where all of them have a forecast.
    use = np.isfinite(fc) & np.isfinite(pers) & np.isfinite(r_fc)
    print(
        f"  trained on {model.nights_} nights {model.first_date_}..{model.last_date_} "
        f"({model.method_.value}, {fit_s:.1f} s); tested on "
        f"{len(np.unique(rows.day[use & np.isfinite(rows.observed)]))} nights "
        f"{rows.dates()[0]}..{rows.dates()[-1]}, issue hours {model.issue_hours_}"
    )
    methods = {
        "model": (fc, lo, hi),
        "persistence": (pers, pers + p_lo, pers + p_hi),
        "rule (site K)": (r_fc, r_lo, r_hi),
        "rule, K=0": (r0_fc, r0_lo, r0_hi),
    }
    subsets = [("all test nights", use)]
    if month_edges:
        dates = rows.dates()
        # The target night runs into the next day; persistence reads the night before.
        edge = np.array(
            [(d + dt.timedelta(days=1)).day == 1 or d.day == 1 for d in dates], dtype=bool
        )
        subsets.append(("without month-boundary nights", use & ~edge))
    for label, subset in subsets:
        print(f"  {label}:")
        print(
            f"    {'method':<15} {'rows':>5} {'MAE':>6} {'RMSE':>6} {'cov80':>6} {'frost':>6}"
            f" {'hit':>6} {'FAR':>6} {'hit(lo)':>8} {'FAR(lo)':>8}"
        )
        for name, (f, a, b) in methods.items():
            s = score(f, a, b, rows.observed, subset)
            print(
                f"    {name:<15} {s.n:>5} {s.mae:>6.2f} {s.rmse:>6.2f} {s.coverage:>6.0%}"
                f" {s.frost:>6} {s.hit:>6.0%} {s.false_alarm:>6.0%} {s.hit_low:>8.0%}"
                f" {s.false_alarm_low:>8.0%}"
            )
    for h in model.issue_hours_:
        at = use & (rows.hour == h)
        s = score(fc, lo, hi, rows.observed, at)
        ps = score(pers, pers + p_lo, pers + p_hi, rows.observed, at)
        print(f"    issued {h}:00: model MAE {s.mae:.2f}, persistence {ps.mae:.2f}")
    names, counts = np.unique(method, return_counts=True)
    made = ", ".join(f"{n}: {int(c)}" for n, c in zip(names, counts, strict=True))
    print(f"    forecasts by method: {made}")


def main() -> int:
    """Run every site and split."""
    print("Frost forecast bench: night minimum (issue time to 08:00), °C; frost = observed < 0")
    print("hit/FAR: hit rate and false-alarm ratio of 'forecast < 0'; (lo): of 'low bound < 0'")
    tmy = read_weather(TMY3)
    print("\nGreensboro NC TMY3 -- DEVELOPMENT DATA, not held out (see module docstring)")
    evaluate(*split(tmy, TEST_FROM), month_edges=True)
    a = simulated_site(SIM_SEED_A)
    print(f"\nSuzaka simulated orchard, seed {SIM_SEED_A}: Jan-Aug -> Sep-Dec (held out)")
    evaluate(*split(a, SIM_TEST_FROM), month_edges=False)
    b = simulated_site(SIM_SEED_B)
    print(
        f"\nSuzaka simulated orchard: seed {SIM_SEED_A} year -> seed {SIM_SEED_B} year (held out)"
    )
    evaluate(a, b, month_edges=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Frost forecast against the acceptance lines, on nights the model did not train on.

Usage: python bench/frost.py [--development-only] [--issue-hours H,H]
(--development-only runs only the development data: Greensboro and simulated seed 999;
--issue-hours overrides the forecaster's default issue hours)

Acceptance (per data set): MAE <= 0.8 x the better baseline (persistence or the physical rule,
both fitted on the same training nights); 80 % interval coverage in [0.75, 0.85]; frost rows
(observed minimum <= 0 °C) warned with recall >= 0.9; at most one false warning per ten warned.

Data, and what each was used for:
- Greensboro, NC (NREL TMY3, tests/data/frost/): DEVELOPMENT DATA. Features, model settings and
  the warning rule were chosen looking at these figures; they are not a held-out result.
- Suzaka apple orchard, simulated: seed 999 was used while developing (and 101/202 by the
  tests). Seeds 303 and 404 were not used to choose anything (their figures were printed by
  an earlier version of this bench).
- Sand Point, AK (NREL TMY3, tests/data/frost/): HELD OUT. Converted once; its splits were fixed
  in this file before its figures were first computed, and nothing was changed after.

Figures of each version, development and held out apart: docs/frost.md, "Evaluation". The
current one (2026-12-07, with the air-mass features) on the held-out station: MAE ratio 0.93
(Jan-Aug -> Sep-Dec) and 0.82 (seasons), coverage 76.0 % and 79.8 %, recall 94.2 % and 95.7 %,
1.7 and 3.4 false warnings per ten warned; on the development data Greensboro still has 3.9-4.5.

Splits: "Jan-Aug -> Sep-Dec" trains on the first eight months and scores the last four;
"seasons" trains on nine months and scores the other three, for each quarter in turn, pooled
(the scored months are removed from the training file). Every score counts rows: one row per
night and issue time (the default issue times), scored where the model and both baselines forecast.
"Warned" is the documented decision of the model (P(minimum <= 0 °C) >= p*, p* from the training
nights' out-of-fold forecasts), the same as the `warning` column of `shinshu models frost predict`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Allow running as a plain script from the repository root without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.time import JST, MS_PER_HOUR
from models.frost.csvio import read_weather
from models.frost.decision import TARGET_RECALL
from models.frost.features import DEFAULT_ISSUE_HOURS, night_rows
from models.frost.forecaster import FrostForecaster
from models.frost.hourly import HOURS, SERIES, HourlyWeather, from_readings
from simulators.farm import SUZAKA
from simulators.stations import weather_station
from simulators.weather import simulate_weather

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "frost"
GREENSBORO = DATA / "greensboro-nc-tmy3.csv"
SAND_POINT = DATA / "sand-point-ak-tmy3.csv"
SIM_DEV_SEED = 999
SIM_SEED_A, SIM_SEED_B = 303, 404
COVERAGE = 0.8
LATE = (9, 10, 11, 12)
SEASONS = ((1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12))
MAE_RATIO, COVER_LOW, COVER_HIGH, FALSE_PER_10 = 0.8, 0.75, 0.85, 1.0
RECALL = TARGET_RECALL
# The warning must come at least this many hours before the air first reaches 0 °C.
LEAD_HOURS = 3


def _issue_hours(argv: list[str]) -> tuple[int, ...]:
    """The issue hours given with --issue-hours H,H, else the forecaster's default."""
    if "--issue-hours" in argv:
        return tuple(int(h) for h in argv[argv.index("--issue-hours") + 1].split(","))
    return DEFAULT_ISSUE_HOURS


ISSUE_HOURS = _issue_hours(sys.argv[1:])


@dataclass(frozen=True, slots=True)
class Scored:
    """The scored rows of one or more folds: truth, the three methods' forecasts, warnings."""

    observed: np.ndarray
    model: np.ndarray
    low: np.ndarray
    high: np.ndarray
    persistence: np.ndarray
    rule: np.ndarray
    warned: np.ndarray
    hour: np.ndarray
    lead: np.ndarray
    day: np.ndarray
    nights: int

    @staticmethod
    def pool(parts: list[Scored]) -> Scored:
        """Folds joined into one set of rows."""
        return Scored(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _ARRAYS),
            nights=sum(p.nights for p in parts),
        )


_ARRAYS = (
    "observed",
    "model",
    "low",
    "high",
    "persistence",
    "rule",
    "warned",
    "hour",
    "lead",
    "day",
)


def first_frost_lead(
    w: HourlyWeather, day: np.ndarray, hour: np.ndarray, morning: int
) -> np.ndarray:
    """Hours from each row's issue time to its window's first hour at <= 0 °C (NaN: none)."""
    t = w.grid(w.air_temperature)
    nxt = np.vstack([t[1:], np.full((1, HOURS), np.nan)])
    lead = np.full(len(day), np.nan)
    for i, (d, h) in enumerate(zip(day, hour, strict=True)):
        window = np.concatenate([t[d, h + 1 :], nxt[d, : morning + 1]])
        below = np.flatnonzero(window <= 0.0)
        if len(below):
            lead[i] = below[0] + 1.0
    return lead


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


def _months(w: HourlyWeather) -> np.ndarray:
    """The month of each day of the grid."""
    return np.array([w.date(d).month for d in range(w.days)])


def without_days(w: HourlyWeather, drop: np.ndarray) -> HourlyWeather:
    """The weather with every reading of the dropped days removed (for training)."""
    hours = np.repeat(drop, HOURS)
    return w.with_values(**{s: np.where(hours, np.nan, getattr(w, s)) for s in SERIES})


def fold(train: HourlyWeather, test: HourlyWeather, scored_days: np.ndarray) -> Scored:
    """Fit on `train`; score the rows of `test` on `scored_days` (all three methods forecast)."""
    model = FrostForecaster(coverage=COVERAGE, issue_hours=ISSUE_HOURS).fit(train)
    rows = night_rows(test, model.issue_hours_, model.morning_hour)
    fc, lo, hi, _ = model.forecast_rows(rows)
    warn = model.warning_rows(rows, fc, lo, hi)[2]
    # Baselines fitted on the training nights: persistence less its median training error, and
    # the rule with its K fitted there (the model's own fallback).
    tr = night_rows(train, model.issue_hours_, model.morning_hour)
    bias = float(np.nanmedian(tr.observed - tr.persistence))
    persistence = rows.persistence + bias
    rule = model.rule_.predict(rows.t_midday, rows.td_midday)[0]
    use = scored_days[rows.day] & np.isfinite(rows.observed)
    use &= np.isfinite(fc) & np.isfinite(persistence) & np.isfinite(rule)
    return Scored(
        rows.observed[use],
        fc[use],
        lo[use],
        hi[use],
        persistence[use],
        rule[use],
        warn[use],
        rows.hour[use],
        first_frost_lead(test, rows.day[use], rows.hour[use], model.morning_hour),
        rows.day[use],
        nights=len(np.unique(rows.day[use])),
    )


def by_months(w: HourlyWeather, groups: tuple[tuple[int, ...], ...]) -> Scored:
    """For each group of months: train on the other months, score these; pooled."""
    month = _months(w)
    parts = []
    for months in groups:
        test = np.isin(month, months)
        parts.append(fold(without_days(w, test), w, test))
    return Scored.pool(parts)


def _mae(forecast: np.ndarray, observed: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(forecast - observed)))


def _in_time(s: Scored) -> tuple[int, int]:
    """Frost nights warned LEAD_HOURS or more before the first hour at <= 0 °C, and all of them.

    A night's first frost hour is read from its earliest issue time's window; it is in time when
    some issue time at least LEAD_HOURS before that hour warned.
    """
    first = min(ISSUE_HOURS)
    good = total = 0
    for d in np.unique(s.day[s.hour == first]):
        at = s.day == d
        early = at & (s.hour == first)
        lead = float(s.lead[early][0])
        if not np.isfinite(lead):
            continue
        total += 1
        frost_at = first + lead
        good += bool((s.warned[at] & (s.hour[at] + LEAD_HOURS <= frost_at)).any())
    return good, total


def _warn_scores(warned: np.ndarray, frost: np.ndarray) -> tuple[float, float]:
    """Recall of frost rows and false warnings per ten warned rows."""
    recall = float(np.mean(warned[frost])) if frost.any() else np.nan
    false10 = float(10.0 * np.mean(~frost[warned])) if warned.any() else np.nan
    return recall, false10


def _verdict(ok: bool | np.bool_, known: bool = True) -> str:
    """PASS, FAIL or n/a."""
    return "n/a" if not known else ("PASS" if ok else "FAIL")


def report(label: str, s: Scored) -> list[str]:
    """Print one data set's figures and verdicts; return the acceptance lines it fails."""
    o = s.observed
    frost = o <= 0.0
    mae, pers, rule = _mae(s.model, o), _mae(s.persistence, o), _mae(s.rule, o)
    ratio = mae / min(pers, rule)
    cover = float(np.mean((o >= s.low) & (o <= s.high)))
    recall, false10 = _warn_scores(s.warned, frost)
    print(f"\n{label}")
    print(
        f"  rows {len(o)} ({s.nights} nights x issue times), frost rows {int(frost.sum())}, "
        f"warned rows {int(s.warned.sum())}"
    )
    print(f"  MAE °C: model {mae:.2f}, persistence {pers:.2f}, rule {rule:.2f}")
    lines = {
        f"MAE ratio to the better baseline {ratio:.2f} (<= {MAE_RATIO})": (
            ratio <= MAE_RATIO,
            True,
        ),
        f"80 % interval coverage {cover:.1%} (in {COVER_LOW:.0%}..{COVER_HIGH:.0%})": (
            COVER_LOW <= cover <= COVER_HIGH,
            True,
        ),
        f"frost recall {recall:.1%} (>= {RECALL:.0%})": (recall >= RECALL, bool(frost.any())),
        f"false warnings per 10 warned {false10:.1f} (<= {FALSE_PER_10:g})": (
            false10 <= FALSE_PER_10,
            bool(s.warned.any()),
        ),
    }
    in_time, frost_nights = _in_time(s)
    print(
        f"  frost nights warned >= {LEAD_HOURS} h before the air first reaches 0 °C (after the "
        f"earliest issue time): {in_time} of {frost_nights}"
    )
    failed = []
    for text, (ok, known) in lines.items():
        verdict = _verdict(ok, known)
        print(f"  {verdict:<4}  {text}")
        if verdict == "FAIL":
            failed.append(text.split(" (")[0])
    for h in np.unique(s.hour):
        at = s.hour == h
        r, f10 = _warn_scores(s.warned[at], frost[at])
        print(
            f"        issued {h}:00: MAE {_mae(s.model[at], o[at]):.2f} (persistence "
            f"{_mae(s.persistence[at], o[at]):.2f}, rule {_mae(s.rule[at], o[at]):.2f}), "
            f"recall {r:.0%}, false per 10 warned {f10:.1f}"
        )
    return failed


def held_out(run: Callable[[str, Scored], None]) -> None:
    """The data not used to choose anything: simulated seeds 303/404 and Sand Point."""
    a = simulated_site(SIM_SEED_A)
    run(
        f"Suzaka simulated, seed {SIM_SEED_A}, Jan-Aug -> Sep-Dec [not used in development]",
        by_months(a, (LATE,)),
    )
    b = simulated_site(SIM_SEED_B)
    every = np.ones(b.days, dtype=bool)
    run(
        f"Suzaka simulated, seed {SIM_SEED_A} year -> seed {SIM_SEED_B} year "
        "[not used in development]",
        fold(a, b, every),
    )
    sand = read_weather(SAND_POINT)
    run("Sand Point AK TMY3, Jan-Aug -> Sep-Dec [HELD OUT]", by_months(sand, (LATE,)))
    run("Sand Point AK TMY3, seasons [HELD OUT]", by_months(sand, SEASONS))


def main() -> int:
    """Run every data set and split; end with the plain list of what fails."""
    print("Frost forecast bench: night minimum (issue time to 08:00), °C; frost = minimum <= 0")
    print("Baselines fitted on the training nights: persistence less its median training error;")
    print("Craddock & Pritchard's rule with the site's K.")
    failures: dict[str, list[str]] = {}

    def run(label: str, scored: Scored) -> None:
        """Report one data set and remember its failures."""
        failures[label] = report(label, scored)

    gso = read_weather(GREENSBORO)
    run("Greensboro NC TMY3, Jan-Aug -> Sep-Dec [DEVELOPMENT]", by_months(gso, (LATE,)))
    run("Greensboro NC TMY3, seasons [DEVELOPMENT]", by_months(gso, SEASONS))
    dev = simulated_site(SIM_DEV_SEED)
    run(f"Suzaka simulated, seed {SIM_DEV_SEED}, seasons [DEVELOPMENT]", by_months(dev, SEASONS))
    if "--development-only" in sys.argv[1:]:
        # Development data only: the simulated seeds and the station kept for scoring are not
        # even generated or read, so a development run cannot look at them by accident.
        print(f"\n(development data only: seeds {SIM_SEED_A}/{SIM_SEED_B} and Sand Point left out)")
    else:
        held_out(run)
    print("\nAcceptance not met:")
    missed = {k: v for k, v in failures.items() if v}
    for label, lines in missed.items():
        print(f"  {label}: {'; '.join(lines)}")
    if not missed:
        print("  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())

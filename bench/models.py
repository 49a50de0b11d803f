"""Held-out evaluation of the stock-out, harvest and forest models against their baselines.

Usage: python bench/models.py [--quick]

Every number comes from simulator seeds that were not used while developing the models. The
harvest part goes through the same CSV files and function API as `shinshu models harvest`.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Allow running as a plain script from the repository root without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_estimator

from evaluation.forest import evaluate_forest
from evaluation.harvest import simulate_dataset
from evaluation.stockout import evaluate_stockout
from models.forest import (
    Economics,
    GrowthCurve,
    faustmann_foc_rotation,
    faustmann_rotation,
)
from models.forest.regressor import ChapmanRichardsRegressor
from models.harvest.api import fit_csv, load_model, predict_csv
from models.harvest.csvio import from_day, read_seasons, read_weather, write_seasons, write_weather
from models.harvest.evaluation import as_of_share, season_lengths, summarize
from models.harvest.model import HarvestForecaster
from models.harvest.predict import predict_all
from models.harvest.types import FieldWeather, SeasonRecord
from models.harvest.yields import IntervalRegressor
from models.stock.stockout import INTERVAL_MARGIN

STOCKOUT_SEEDS = (901, 902, 903, 904, 905)
# Seeds evaluation.stockout.calibrate_margin fitted INTERVAL_MARGIN on (development data).
CALIBRATION_SEEDS = (1, 2, 3, 4, 5)
HARVEST_TRAIN_SEED = 11
HARVEST_TEST_SEEDS = (97, 53)
FOREST_SEEDS = (901, 902)
HORIZON_H = 72.0
WOFOST_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "harvest"
WOFOST_LATE_DATA = WOFOST_DATA.parent / "harvest-late"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def row(name: str, model: float, baseline: float, target: str, ok: bool) -> None:
    """One line of the metrics table."""
    print(f"  {name:<44} {model:>9.3f} {baseline:>10.3f}  {target:<24} {verdict(ok)}")


def header(title: str) -> None:
    """A section title with the table's column names."""
    print(f"\n{title}")
    print(f"  {'metric':<44} {'model':>9} {'baseline':>10}  {'target':<24} result")


def bench_stockout(seeds: tuple[int, ...]) -> bool:
    """Stock-out forecast at origins about three days from empty."""
    s = evaluate_stockout(seeds, horizon_h=HORIZON_H)
    raw = evaluate_stockout(seeds, horizon_h=HORIZON_H, margin=0.0)
    header(f"A. stock-out forecast: {s.cases} origins, held-out seeds {seeds}")
    limit = 0.1 * HORIZON_H
    ok1 = s.model_mae_h <= limit
    row(
        "median |error| of time to empty (h)",
        s.model_mae_h,
        s.baseline_mae_h,
        f"<= {limit:.1f} h",
        ok1,
    )
    ok2 = 0.75 <= s.coverage <= 0.85
    row("10-90 % interval coverage (calibrated)", s.coverage, float("nan"), "0.75-0.85", ok2)
    row("10-90 % interval coverage (uncalibrated)", raw.coverage, float("nan"), "(info)", True)
    print(
        f"  interval: split-conformal margin {INTERVAL_MARGIN:+.4f} log h, calibrated on "
        f"development seeds {CALIBRATION_SEEDS}"
    )
    print(f"  reorder alert: recall {s.alert_recall:.2f}, precision {s.alert_precision:.2f}")
    print("  (baseline: constant mean use rate of the last 7 days)")
    return ok1 and ok2


def bench_harvest(test_seeds: tuple[int, ...], train_years: int = 10) -> bool:
    """Harvest model trained on one simulated decade, scored on later years of other seeds."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        weather, seasons = simulate_dataset(HARVEST_TRAIN_SEED, 2026, train_years)
        write_weather(d / "weather.csv", weather.values())
        write_seasons(d / "seasons.csv", seasons)
        start = time.perf_counter()
        fit_csv(d / "weather.csv", d / "seasons.csv", d / "model")
        fit_s = time.perf_counter() - start
        # As of a share of each crop's usual length in training, not of the season's own.
        lengths = season_lengths(load_model(d / "model"))
        for seed in test_seeds:
            test_weather, test_seasons = simulate_dataset(seed, 2026 + train_years, 5)
            write_weather(d / f"w{seed}.csv", test_weather.values())
            header(
                f"B. harvest, held-out seed {seed} "
                f"(trained on seed {HARVEST_TRAIN_SEED}, fit {fit_s:.1f} s)"
            )
            for share in (0.5, 0.75):
                rows = as_of_share(test_seasons, share, lengths)
                path = write_seasons(d / f"s{seed}.csv", rows)
                preds = predict_csv(d / "model", d / f"w{seed}.csv", path, None, d / "p.csv")
                s = summarize(preds, share)
                pct = f"{share:.0%}"
                good = s.maturity_mae <= 0.7 * s.gdd_maturity_mae
                row(
                    f"maturity MAE (d) @{pct} vs GDD10+clim",
                    s.maturity_mae,
                    s.gdd_maturity_mae,
                    "<= 0.7 x baseline",
                    good,
                )
                row(
                    f"maturity MAE (d) @{pct} vs mean days",
                    s.maturity_mae,
                    s.clim_maturity_mae,
                    "(info)",
                    True,
                )
                ok &= good
                good_y = share < 0.75 or s.yield_mae <= 0.7 * s.clim_yield_mae
                target = "<= 0.7 x baseline" if share == 0.75 else "(info)"
                row(
                    f"yield MAE (t/ha) @{pct} vs crop mean",
                    s.yield_mae,
                    s.clim_yield_mae,
                    target,
                    good_y,
                )
                ok &= good_y
                cov = s.maturity_coverage >= 0.75 and s.yield_coverage >= 0.75
                row(
                    f"80 % coverage @{pct}: maturity",
                    s.maturity_coverage,
                    float("nan"),
                    ">= 0.75",
                    s.maturity_coverage >= 0.75,
                )
                row(
                    f"80 % coverage @{pct}: yield",
                    s.yield_coverage,
                    float("nan"),
                    ">= 0.75",
                    s.yield_coverage >= 0.75,
                )
                ok &= cov
                for crop in sorted({p.season.crop for p in preds}):
                    c = summarize([p for p in preds if p.season.crop == crop], share)
                    print(
                        f"    {crop:<8} n={c.cases:<3} maturity {c.maturity_mae:5.2f} d "
                        f"(GDD {c.gdd_maturity_mae:5.2f}, mean {c.clim_maturity_mae:5.2f})  "
                        f"yield {c.yield_mae:5.2f} (mean {c.clim_yield_mae:5.2f})"
                    )
    return ok


def bench_forest(seeds: tuple[int, ...]) -> bool:
    """Faustmann rotation against the first-order condition, and fits to simulated stands."""
    header("C. forest rotation (Faustmann)")
    ok = True
    for name, curve in (
        ("larch", GrowthCurve(500.0, 0.04, 2.5)),
        ("sugi", GrowthCurve(1000.0, 0.03, 2.8)),
    ):
        rotations = []
        for rate in (0.01, 0.02, 0.03, 0.05):
            econ = Economics(rate=rate)
            t, ref = faustmann_rotation(curve, econ), faustmann_foc_rotation(curve, econ)
            rotations.append(t)
            good = abs(t - ref) < 1.0
            ok &= good
            row(f"{name} r={rate:.2f}: rotation vs FOC root (y)", t, ref, "|diff| < 1 y", good)
        falling = all(a > b for a, b in itertools.pairwise(rotations))
        ok &= falling
        print(f"  {name}: rotation falls as the rate rises: {verdict(falling)}")
    s = evaluate_forest(seeds)
    print(f"  held-out stands: {s.stands} (seeds {seeds}), 12 years fitted, 8 forecast")
    row(
        "volume MAPE, next 8 years",
        s.volume_mape,
        s.baseline_volume_mape,
        "(info; linear trend)",
        True,
    )
    row(
        "rotation error per stand (y, median)",
        s.rotation_error_years,
        s.mai_rotation_error_years,
        "(info; MAI rotation)",
        True,
    )
    row(
        "rotation error, stands pooled by species",
        s.pooled_rotation_error_years,
        s.mai_rotation_error_years,
        "< MAI baseline",
        s.pooled_rotation_error_years < s.mai_rotation_error_years,
    )
    return ok


def bench_checks() -> bool:
    """scikit-learn estimator checks of every batch estimator defined here."""
    print("\nD. sklearn.utils.estimator_checks.check_estimator")
    ok = True
    estimators = (
        ChapmanRichardsRegressor(),
        IntervalRegressor(),
        IntervalRegressor(estimator=Ridge()),
    )
    for est in estimators:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(est, on_fail=None)
        status = {"passed": 0, "failed": 0, "skipped": 0, "xfail": 0}
        failed = set()
        for r in results:
            status[r["status"]] = status.get(r["status"], 0) + 1
            if r["status"] == "failed":
                failed.add(r["check_name"])
        good = not failed
        ok &= good
        note = f" (failed: {', '.join(sorted(failed))})" if failed else ""
        print(
            f"  {est!r:<40} passed {status['passed']}, failed {status['failed']}, "
            f"skipped {status['skipped']}  {verdict(good)}{note}"
        )
    return ok


def bench_harvest_wofost(data: Path = WOFOST_DATA) -> bool:
    """Season-only weather: WOFOST seasons (tests/data/harvest), trained on even sowing years."""
    weather = read_weather(data / "weather.csv")
    seasons = read_seasons(data / "seasons.csv", need_truth=True)
    train = [s for s in seasons if int(from_day(s.planting)[:4]) % 2 == 0]
    test = [s for s in seasons if int(from_day(s.planting)[:4]) % 2 == 1]
    model = HarvestForecaster().fit({s.field_id: weather[s.field_id] for s in train}, train)
    header(
        f"B2. harvest, WOFOST 7.2 seasons with season-only weather: {len(train)} training "
        f"seasons (even years 1976-1998, used while developing), {len(test)} held-out (odd years "
        "1977-1999; developed against too, so not a clean hold-out); as-of = planting + share x "
        "mean training season length"
    )
    return _score_wofost(model, weather, test)


def bench_harvest_wofost_late(data: Path = WOFOST_DATA, late: Path = WOFOST_LATE_DATA) -> bool:
    """The clean hold-out: trained on the even years of all four sowing dates, scored on the odd
    years of the later two (tests/data/harvest-late), which nothing was tuned on."""
    weather = read_weather(data / "weather.csv") | read_weather(late / "weather.csv")
    early = read_seasons(data / "seasons.csv", need_truth=True)
    later = read_seasons(late / "seasons.csv", need_truth=True)
    train = [s for s in early + later if int(from_day(s.planting)[:4]) % 2 == 0]
    test = [s for s in later if int(from_day(s.planting)[:4]) % 2 == 1]
    model = HarvestForecaster().fit({s.field_id: weather[s.field_id] for s in train}, train)
    header(
        f"B3. harvest, WOFOST 7.2, clean hold-out: {len(train)} training seasons (even years, "
        f"four sowing dates), {len(test)} held-out (odd years, the two later sowing dates: "
        "never used while developing); as-of = planting + share x mean training season length"
    )
    return _score_wofost(model, weather, test)


def _score_wofost(
    model: HarvestForecaster, weather: dict[str, FieldWeather], test: list[SeasonRecord]
) -> bool:
    """Per crop and share: maturity against the fitted GDD rule, yield against climatology,
    and the intervals' coverage."""
    ok = True
    for share in (0.5, 0.75):
        preds = predict_all(model, weather, as_of_share(test, share, season_lengths(model)), None)
        real = sum(p.status.value == "ok" and not p.fallback for p in preds)
        ok &= real == len(preds)
        print(f"  {share:.0%}: {real} of {len(preds)} seasons got the full model (no fallback)")
        for crop in sorted(model.crops_):
            c = summarize([p for p in preds if p.season.crop == crop], share)
            row(
                f"{crop} maturity MAE (d) @ {share:.0%} vs fitted GDD",
                c.maturity_mae,
                c.gdd_maturity_mae,
                "<= 0.7 x baseline",
                c.maturity_mae <= 0.7 * c.gdd_maturity_mae,
            )
            row(
                f"{crop} yield MAE (t/ha) @ {share:.0%} vs climatology",
                c.yield_mae,
                c.clim_yield_mae,
                "<= 0.7 x baseline",
                c.yield_mae <= 0.7 * c.clim_yield_mae,
            )
            row(
                f"{crop} 80 % interval coverage maturity / yield",
                c.maturity_coverage,
                c.yield_coverage,
                "0.75-0.85",
                0.75 <= c.maturity_coverage <= 0.85 and 0.75 <= c.yield_coverage <= 0.85,
            )
    return ok


def main(argv: list[str]) -> int:
    """Run every benchmark; exit status 1 if any acceptance target is missed."""
    quick = "--quick" in argv
    start = time.perf_counter()
    results = [
        bench_stockout(STOCKOUT_SEEDS[:2] if quick else STOCKOUT_SEEDS),
        bench_harvest(HARVEST_TEST_SEEDS[:1] if quick else HARVEST_TEST_SEEDS),
        bench_harvest_wofost(),
        bench_harvest_wofost_late(),
        bench_forest(FOREST_SEEDS[:1] if quick else FOREST_SEEDS),
        bench_checks(),
    ]
    print(f"\nall targets met: {verdict(all(results))} ({time.perf_counter() - start:.0f} s)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

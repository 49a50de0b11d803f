"""Bin anomaly detector on simulated factories: event-level F1 and detection delay per kind.

Part 1, the factory simulator's continuous-noise load cells: seeds 11-20 (90 days each,
3 factories x 4 bins) were not used while developing the residual detector.

Part 2, load-cell bins read through weighing indicators (`simulators.loadcell`: whole divisions,
stability hold, dead cells, lost readings, slow pilferage, temperature-following cells, one bin
per factory without a counter, overlapping events): F1 and false alarms per bin and 30-day month
per behaviour, before (the residual detector alone) and after (`LoadCellDetector`). Seeds 1-15
were used while developing `LoadCellDetector` (1-5 first, 6-15 in a second round). Seeds 701-710
were run once between the two rounds, so they are no longer held out; seeds 711-720 were held
out and run only after the second round, to report those figures. The quiet-hours tracker for
bins without a counter came later (developed on seeds 1-15): seeds 721-730, never run before,
are the held-out seeds reported for it.

Usage: python bench/stock_anomaly.py [--seeds 11-20] [--days 90] [--loadcell-seeds 721-730]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from evaluation.loadcell import LoadCellScores, detect_new, detect_old, evaluate_loadcell  # noqa: E402
from evaluation.stock_anomaly import evaluate  # noqa: E402

DEVELOPMENT_SEEDS = "1-15"
# Run once after the first round of development: seen, so no longer reported as held out.
SEEN_SEEDS = ("701-710", "711-720")
HELD_OUT_SEEDS = "721-730"


def _seeds(text: str) -> range:
    """first-last as a range."""
    first, last = (int(x) for x in text.split("-"))
    return range(first, last + 1)


def _loadcell(seeds: range, days: float) -> None:
    """Print part 2: each behaviour before and after."""
    before = evaluate_loadcell(seeds, days=days, detect=detect_old)
    after = evaluate_loadcell(seeds, days=days, detect=detect_new)
    held = "held out" if seeds.start >= 721 else "seen while developing, NOT held out"
    print(f"\nload-cell bins: seeds {seeds.start}-{seeds.stop - 1} ({held}), {days:g} days")
    print(
        f"  {'behaviour':<32}{'events':>7}{'F1 before':>11}{'F1 after':>10}"
        f"{'false/bin-mo before':>21}{'after':>7}{'delay after':>13}"
    )
    names = sorted(set(before.behaviours) | set(after.behaviours))
    for name in names:
        a = after.behaviours.get(name)
        events = (a.found + a.missed) if a else 0
        print(
            f"  {name:<32}{events:>7}{_f1(before, name):>11.3f}{_f1(after, name):>10.3f}"
            f"{before.false_per_bin_month_of(name):>21.3f}{after.false_per_bin_month_of(name):>7.3f}"
            f"{(a.median_delay_h if a else float('nan')):>11.1f} h"
        )
    for label, scores in (("before", before), ("after", after)):
        kinds = ", ".join(f"{k.value} {v}" for k, v in sorted(scores.false_alarms.items()))
        print(
            f"  all false alarms {label}: {scores.false_per_bin_month:.3f} per bin-month "
            f"({kinds or 'none'})"
        )
    print(f"  not observable by any sensor (not scored): {after.unobservable or 'none'}")
    print("  target: F1 kept and < 1 false alarm per bin-month")


def _f1(scores: LoadCellScores, name: str) -> float:
    """F1 of one behaviour, 0 when it was never scored."""
    score = scores.behaviours.get(name)
    return score.f1 if score else 0.0


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="11-20", help="first-last")
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--loadcell-seeds", default=HELD_OUT_SEEDS, help="first-last")
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    scores = evaluate(seeds, days=args.days)
    print(f"seeds {seeds.start}-{seeds.stop - 1}, {args.days:g} days, 10-minute readings")
    print(f"{'kind':<12}{'found':>7}{'missed':>8}{'false':>7}{'F1':>7}{'median delay':>15}")
    for kind, score in sorted(scores.items()):
        print(
            f"{kind.value:<12}{score.found:>7}{score.missed:>8}{score.false_alarms:>7}"
            f"{score.f1:>7.3f}{score.median_delay_h:>13.2f} h"
        )
    print("target: F1 >= 0.9 for drop, flat_line and drift")
    _loadcell(_seeds(args.loadcell_seeds), args.days)


if __name__ == "__main__":
    main()

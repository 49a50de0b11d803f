"""Bin anomaly detector on simulated factories: event-level F1 and detection delay per kind.

Seeds 11-20 (90 days each, 3 factories x 4 bins) were not used while developing the detector.
Usage: python bench/stock_anomaly.py [--seeds 11-20] [--days 90]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from evaluation.stock_anomaly import evaluate  # noqa: E402


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="11-20", help="first-last")
    parser.add_argument("--days", type=float, default=90.0)
    args = parser.parse_args()
    first, last = (int(x) for x in args.seeds.split("-"))
    scores = evaluate(range(first, last + 1), days=args.days)
    print(f"seeds {first}-{last}, {args.days:g} days, 10-minute readings")
    print(f"{'kind':<12}{'found':>7}{'missed':>8}{'false':>7}{'F1':>7}{'median delay':>15}")
    for kind, score in sorted(scores.items()):
        print(
            f"{kind.value:<12}{score.found:>7}{score.missed:>8}{score.false_alarms:>7}"
            f"{score.f1:>7.3f}{score.median_delay_h:>13.2f} h"
        )
    print("target: F1 >= 0.9 for drop, flat_line and drift")


if __name__ == "__main__":
    main()

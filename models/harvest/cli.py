"""`harvest fit` and `harvest predict` subcommands, for any argparse subparsers object."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from models.harvest.types import HarvestError

EXIT_BAD_INPUT = 2


def _fit(_settings: object, args: argparse.Namespace) -> int:
    """Train and save; print what was learned."""
    from models.harvest.api import fit_csv

    try:
        model = fit_csv(args.weather, args.seasons, args.out)
    except HarvestError as exc:
        print(f"harvest fit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for name, crop in model.crops_.items():
        kind = crop.phenology.kind.value if crop.phenology else "calendar fallback"
        print(
            f"{name}: {crop.seasons} seasons, phenology {kind}, "
            f"{len(crop.yield_models)} yield model(s)"
        )
    for reason in model.skipped_:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"model -> {args.out}", flush=True)
    return 0


def _predict(_settings: object, args: argparse.Namespace) -> int:
    """Forecast and write the predictions file; print a count per status."""
    from models.harvest.api import predict_csv

    try:
        predictions = predict_csv(args.model, args.weather, args.seasons, args.as_of, args.out)
    except HarvestError as exc:
        print(f"harvest predict: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    counts = Counter(p.status.value for p in predictions)
    print(
        f"{len(predictions)} seasons ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})"
        f" -> {args.out}",
        flush=True,
    )
    fallbacks = Counter(p.fallback for p in predictions if p.fallback)
    if fallbacks:
        # Users must know how many forecasts were simpler than the full model, and why.
        reasons = "; ".join(f"{n} x {why}" for why, n in sorted(fallbacks.items()))
        print(
            f"harvest predict: {sum(fallbacks.values())} 件は簡易予測 / fallback forecasts: "
            f"{reasons}",
            file=sys.stderr,
        )
    return 0


def add_harvest_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `fit` and `predict` on `sub`; each sets `handler(settings, args) -> int`."""
    fit = sub.add_parser(
        "fit",
        help="train maturity and yield models from past seasons",
        description="Reads daily weather (field_id,date,tmin,tmax,radiation,rain[,soil_moisture]) "
        "and seasons (field_id,crop,planting_date,maturity_date,yield) and writes MODEL_DIR.",
    )
    fit.add_argument("--weather", type=Path, required=True, metavar="W.csv")
    fit.add_argument("--seasons", type=Path, required=True, metavar="S.csv")
    fit.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR")
    fit.set_defaults(handler=_fit)
    predict = sub.add_parser(
        "predict",
        help="forecast maturity date, yield and harvest window as of a date",
        description="Weather after the as-of date is ignored; an as_of column in the seasons "
        "file overrides --as-of per row. maturity_date and yield may be absent.",
    )
    predict.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    predict.add_argument("--weather", type=Path, required=True, metavar="W.csv")
    predict.add_argument("--seasons", type=Path, required=True, metavar="S.csv")
    predict.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help="last known day")
    predict.add_argument("--out", type=Path, required=True, metavar="PRED.csv")
    predict.set_defaults(handler=_predict)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: `python -m models.harvest.cli fit|predict ...`."""
    parser = argparse.ArgumentParser(prog="harvest", description="Harvest timing and yield.")
    add_harvest_commands(parser.add_subparsers(dest="harvest_command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(None, args))


if __name__ == "__main__":
    sys.exit(main())

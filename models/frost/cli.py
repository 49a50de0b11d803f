"""`frost fit` and `frost predict`: the orchard frost forecast from a site's hourly weather."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from models.errors import ModelError

EXIT_BAD_INPUT = 2


def _hours(text: str) -> tuple[int, ...]:
    """Comma-separated whole hours, e.g. 15,21."""
    try:
        return tuple(int(h) for h in text.split(",") if h.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("hours as whole numbers, e.g. 15,21") from None


def _fit(args: argparse.Namespace) -> int:
    """Train and save; print what was learned."""
    from models.frost.api import fit_csv

    try:
        model = fit_csv(
            args.weather, args.out, issue_hours=args.issue_hours, min_nights=args.min_nights
        )
    except (ModelError, ValueError) as exc:
        print(f"frost fit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    window = f"{model.first_date_} .. {model.last_date_}"
    if model.method_.value == "model":
        print(
            f"学習夜数 / nights: {model.nights_} ({window}); "
            f"交差検証 MAE / CV MAE {model.metrics_['model_cv_mae']:.2f} °C, "
            f"80 % 区間の的中率 / interval coverage {model.metrics_['model_cv_coverage']:.0%}"
        )
    else:
        print(
            f"学習夜数 / nights: {model.nights_} ({window}) < {model.min_nights}: "
            "物理式で予報します / forecasts will use the physical rule",
            file=sys.stderr,
        )
    stars = ", ".join(f"{h}:00 {p:.2f}" for h, p in sorted(model.p_star_.items()))
    print(f"霜警報のしきい値 / frost warning when P(min <= 0 °C) >= p*: {stars}")
    print(f"model -> {args.out}", flush=True)
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Forecast and write the nights file; print the count of physical-rule fallbacks."""
    from models.frost.api import predict_csv

    try:
        report = predict_csv(args.model, args.weather, args.out, stage=args.stage)
    except (ModelError, ValueError) as exc:
        print(f"frost predict: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    total = len(report.forecasts)
    print(
        f"物理式による代替予報 / physical-rule fallbacks: {report.fallbacks} / {total}",
        file=sys.stderr,
    )
    missing = report.methods.get("none", 0)
    if missing:
        print(f"予報できない時刻 / issue times without a forecast: {missing}", file=sys.stderr)
    print(f"{total} forecasts -> {args.out}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `frost` command line with `fit` and `predict`."""
    parser = argparse.ArgumentParser(
        prog="shinshu models frost",
        description="果樹園の霜予報 / orchard frost forecast: tonight's minimum air temperature "
        "with an 80 %% interval, from the site's own hourly readings (docs/frost.md).",
    )
    sub = parser.add_subparsers(dest="frost_command", required=True)
    fit = sub.add_parser(
        "fit",
        help="train on a site's hourly weather",
        description="Reads HOURLY.csv (time, air_temperature, relative_humidity and/or "
        "dew_point, wind_speed, solar_radiation; missing columns and values allowed) and writes "
        "MODEL_DIR (model.skops, meta.json).",
    )
    fit.add_argument("--weather", type=Path, required=True, metavar="HOURLY.csv")
    fit.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR")
    fit.add_argument(
        "--issue-hours", type=_hours, default=None, metavar="H,H", help="local (default 15,21)"
    )
    fit.add_argument(
        "--min-nights", type=int, default=None, help="fewer nights: physical rule (30)"
    )
    fit.set_defaults(handler=_fit)
    predict = sub.add_parser(
        "predict",
        help="forecast each night and issue time of an hourly weather file",
        description="Writes NIGHTS.csv: date, issued_at, forecast, low, high, method, observed "
        "(the file's own minimum when it covers the night; never an input), p_frost (forecast "
        "probability of a minimum <= 0 °C) and warning ('frost' when p_frost >= the model's p*).",
    )
    predict.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    predict.add_argument("--weather", type=Path, required=True, metavar="HOURLY.csv")
    predict.add_argument("--out", type=Path, required=True, metavar="NIGHTS.csv")
    predict.add_argument(
        "--stage", default=None, help="apple bud stage (e.g. full_bloom): adds a bud_warning column"
    )
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python -m models.frost.cli fit|predict ...`."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())

"""`swi`: Soil Water Index, 60-minute rainfall and landslide level per step of a rain CSV."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from models.landslide.errors import LandslideError, bilingual

EXIT_BAD_INPUT = 2
OFF = "off"


def _threshold(text: str) -> float | None:
    """A threshold in mm, or `off` for none."""
    if text.strip().lower() == OFF:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(
            bilingual("0 以上の mm の値か off を指定してください", "give mm (zero or more) or off")
        )
    return value


def _line(text: str) -> tuple[float, float, float, float]:
    """Four numbers SWI1,R60_1,SWI2,R60_2 of a critical line."""
    try:
        a, b, c, d = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            bilingual(
                "SWI1,R60_1,SWI2,R60_2 の 4 つの数値を指定してください",
                "give four numbers SWI1,R60_1,SWI2,R60_2",
            )
        ) from None
    return a, b, c, d


def _minutes(text: str) -> float:
    """A positive step in minutes."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            bilingual("正の分数を指定してください", "give a positive number of minutes")
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The `swi` command's options."""
    parser = argparse.ArgumentParser(
        prog="shinshu models swi",
        description="土壌雨量指数 (Soil Water Index, JMA three-tank model), 60分間雨量 (R60) and "
        "landslide level per step. RAIN.csv: columns time (ISO 8601, end of each step) and "
        "rain_mm (mm fallen in the step; with --cumulative the gauge's running total). "
        "docs/landslide.md describes the model and the thresholds.",
        epilog="The default thresholds are placeholders: replace them with the site's criteria "
        "(JMA / prefecture).",
    )
    parser.add_argument("--rain", type=Path, required=True, metavar="RAIN.csv")
    parser.add_argument("--out", type=Path, required=True, metavar="SWI.csv")
    parser.add_argument(
        "--cumulative", action="store_true", help="rain_mm is a gauge total; resets are detected"
    )
    parser.add_argument("--step", type=_minutes, metavar="MIN", help="step (default: detected)")
    limits = parser.add_argument_group("thresholds (mm, or off)")
    for level, swi, rain60 in (
        ("caution", 100.0, 30.0),
        ("warning", 150.0, None),
        ("danger", 200.0, None),
    ):
        limits.add_argument(
            f"--{level}-swi",
            type=_threshold,
            default=swi,
            metavar="MM",
            help=f"SWI for {level} (default {swi:g})",
        )
        limits.add_argument(
            f"--{level}-r60",
            type=_threshold,
            default=rain60,
            metavar="MM",
            help=f"R60 for {level} (default {rain60 if rain60 else OFF})",
        )
    limits.add_argument(
        "--critical-line",
        type=_line,
        metavar="SWI1,R60_1,SWI2,R60_2",
        help="critical line (CL) through two (SWI, R60) points",
    )
    limits.add_argument(
        "--critical-line-level", default="danger", help="level of crossing the CL (default danger)"
    )
    state = parser.add_argument_group("resuming")
    state.add_argument(
        "--state-in",
        type=Path,
        metavar="STATE.json",
        help="tank storages to start from (default: dry)",
    )
    state.add_argument(
        "--state-out", type=Path, metavar="STATE.json", help="write the final tank state here"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Compute, write, and print a summary with each level rise."""
    from models.landslide.csvio import evaluate, read_rain, write_swi
    from models.landslide.levels import CriticalLine, Level, Thresholds
    from models.landslide.tank import TankModel

    try:
        thresholds = Thresholds(
            caution_swi_mm=args.caution_swi,
            caution_r60_mm=args.caution_r60,
            warning_swi_mm=args.warning_swi,
            warning_r60_mm=args.warning_r60,
            danger_swi_mm=args.danger_swi,
            danger_r60_mm=args.danger_r60,
            critical_line=CriticalLine(*args.critical_line) if args.critical_line else None,
            critical_line_level=Level.parse(args.critical_line_level),
        )
        initial = None
        if args.state_in is not None:
            try:
                initial = TankModel.from_state(json.loads(args.state_in.read_text("utf-8")))
            except (OSError, json.JSONDecodeError) as exc:
                raise LandslideError(
                    f"状態ファイルを読めません ({exc})",
                    f"cannot read the state ({exc})",
                    where=str(args.state_in),
                ) from exc
        rain = read_rain(args.rain, cumulative=args.cumulative, step_minutes=args.step)
        result = evaluate(rain, thresholds, initial=initial)
        write_swi(args.out, result)
        if args.state_out is not None:
            args.state_out.write_text(json.dumps(result.final_state, indent=2) + "\n", "utf-8")
    except LandslideError as exc:
        print(f"swi: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    swi = result.tanks.swi_mm
    peak = max(result.levels, default=Level.NONE)
    print(
        bilingual(
            f"{len(rain.times)} 行 (間隔 {rain.step_minutes:g} 分), 最大土壌雨量指数 "
            f"{swi.max():.1f} mm, 最大60分間雨量 {result.r60_mm.max():.1f} mm, "
            f"最高レベル {peak.ja}",
            f"{len(rain.times)} rows (step {rain.step_minutes:g} min), max SWI {swi.max():.1f} mm, "
            f"max R60 {result.r60_mm.max():.1f} mm, highest level {peak.en}",
        )
    )
    for reset in rain.resets:
        print(
            bilingual(
                f"雨量計のリセット: {rain.time_text[reset]}",
                f"gauge counter reset at {rain.time_text[reset]}",
            )
        )
    for rise in result.rises:
        print(rise.message())
    print(f"-> {args.out}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `shinshu models swi ...` or `python -m models.landslide.cli ...`."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

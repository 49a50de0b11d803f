"""Crop-model seasons with season-only weather, from WOFOST 7.2 (PCSE) and its sample weather.

Usage: python bench/harvest_wofost.py OUT_DIR [--sowings N] [--first-sowing K]

Runs water-limited WOFOST 7.2 (PCSE, de Wit et al. 2019, "25 years of the WOFOST cropping
systems model", Agricultural Systems 168) for potato and spring barley with the crop, soil and
site parameters of PCSE's demo database (grid 31031) over the Wageningen (Haarweg) weather of
1976-1999 that PCSE ships (CABO files NL1.976-NL1.999). Every season is its own field whose
weather is logged from sowing to maturity + 30 days and nothing else: the season-only weather
a farm has. Writes weather.csv and seasons.csv in the format `shinshu models harvest fit`
reads. Needs the `pcse` package (the `bench` extra); the tests use a copy in tests/data/harvest.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sqlite3
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any

# Crop numbers of PCSE's demo database and sowing dates spread over each crop's usual window
# in the Netherlands (month, day); later sowings see other temperatures and day lengths.
CROPS = {"potato": 7, "barley": 3}
SOWINGS = {
    "potato": ((4, 1), (4, 15), (5, 1), (5, 15)),
    "barley": ((3, 10), (3, 25), (4, 10), (4, 25)),
}
GRID = 31031
YEARS = range(1976, 2000)
AFTER_MATURITY_DAYS = 30


def _database() -> sqlite3.Connection:
    """PCSE's demo database, built in memory from the SQL dump it ships."""
    import pcse.tests

    data = Path(pcse.tests.__file__).parent / "test_data"
    con = sqlite3.connect(":memory:")
    con.executescript((data / "pcse_dump.sql").read_text())

    def row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Any:
        """Rows as named tuples, as PCSE's database readers expect."""
        return namedtuple("Row", [c[0] for c in cursor.description])._make(values)

    con.row_factory = row
    return con


def _agro(crop: str, sowing: dt.date) -> list[dict[dt.date, Any]]:
    """Agromanagement of one season: sow on `sowing`, end at maturity."""
    return [
        {
            sowing - dt.timedelta(days=1): {
                "CropCalendar": {
                    "crop_name": crop,
                    "variety_name": crop,
                    "crop_start_date": sowing,
                    "crop_start_type": "sowing",
                    "crop_end_date": dt.date(sowing.year, 12, 31),
                    "crop_end_type": "maturity",
                    "max_duration": 300,
                },
                "TimedEvents": None,
                "StateEvents": None,
            }
        }
    ]


def generate(out: Path, sowings: int, first: int = 0) -> tuple[int, int]:
    """Write weather.csv and seasons.csv to `out` for sowing dates first .. sowings - 1 of each
    crop; return (seasons, weather rows)."""
    import pcse.tests
    from pcse.base import ParameterProvider
    from pcse.exceptions import WeatherDataProviderError
    from pcse.input import CABOWeatherDataProvider
    from pcse.models import Wofost72_WLP_CWB
    from pcse.tests.db_input import fetch_cropdata, fetch_sitedata, fetch_soildata

    con = _database()
    weather = CABOWeatherDataProvider(
        "NL1", fpath=str(Path(pcse.tests.__file__).parent / "test_data")
    )
    out.mkdir(parents=True, exist_ok=True)
    n_rows = n_seasons = 0
    with (
        (out / "weather.csv").open("w", newline="") as wf,
        (out / "seasons.csv").open("w", newline="") as sf,
    ):
        w, s = csv.writer(wf), csv.writer(sf)
        w.writerow(["field_id", "date", "tmin", "tmax", "radiation", "rain"])
        s.writerow(["field_id", "crop", "planting_date", "maturity_date", "yield"])
        for crop, number in CROPS.items():
            params = ParameterProvider(
                cropdata=fetch_cropdata(con, GRID, 2000, number),
                soildata=fetch_soildata(con, GRID),
                sitedata=fetch_sitedata(con, GRID, 2000),
            )
            for year in YEARS:
                for k, (month, day) in enumerate(SOWINGS[crop][:sowings]):
                    if k < first:
                        continue
                    sowing = dt.date(year, month, day)
                    try:
                        sim = Wofost72_WLP_CWB(params, weather, _agro(crop, sowing))
                        sim.run_till_terminate()
                    except WeatherDataProviderError:
                        continue  # a gap in the sample weather: the crop model cannot run
                    summary = sim.get_summary_output()[0]
                    maturity = summary["DOM"]
                    if maturity is None:
                        continue  # not mature by the end of the year: no outcome to learn
                    field = f"{crop}-{year}-{k}"
                    # Storage organs, kg dry matter/ha -> t/ha.
                    s.writerow([field, crop, sowing, maturity, f"{summary['TWSO'] / 1000:.3f}"])
                    n_seasons += 1
                    last = min(maturity + dt.timedelta(days=AFTER_MATURITY_DAYS), weather.last_date)
                    day_ = sowing
                    while day_ <= last:
                        try:
                            d = weather(day_)
                        except WeatherDataProviderError:
                            day_ += dt.timedelta(days=1)
                            continue  # a day the station did not log stays missing
                        # PCSE keeps radiation in J/m²/day and rain in cm/day.
                        w.writerow(
                            [
                                field,
                                day_,
                                f"{d.TMIN:.1f}",
                                f"{d.TMAX:.1f}",
                                f"{d.IRRAD / 1e6:.2f}",
                                f"{d.RAIN * 10:.1f}",
                            ]
                        )
                        n_rows += 1
                        day_ += dt.timedelta(days=1)
    return n_seasons, n_rows


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sowings", type=int, default=4, help="sowing dates per crop and year")
    parser.add_argument(
        "--first-sowing", type=int, default=0, help="skip the sowing dates before this one"
    )
    args = parser.parse_args()
    seasons, rows = generate(args.out, args.sowings, args.first_sowing)
    print(f"{seasons} seasons, {rows} weather rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

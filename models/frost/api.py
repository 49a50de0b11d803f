"""File-level API: fit from an hourly weather CSV into a model directory, predict into a CSV."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from models.frost.critical import Stage, critical_temperature, frost_warning
from models.frost.csvio import read_weather, write_forecasts
from models.frost.forecaster import FrostForecaster, Method, NightForecast
from models.frost.persist import load_model, save_model


@dataclass(frozen=True, slots=True)
class PredictReport:
    """What `predict_csv` wrote: the forecasts and how many each method made."""

    forecasts: list[NightForecast]
    methods: Counter[str]

    @property
    def fallbacks(self) -> int:
        """Forecasts made by the physical rule."""
        return self.methods.get(Method.PHYSICAL_RULE.value, 0)


def fit_csv(
    weather_csv: Path,
    out_dir: Path,
    *,
    issue_hours: tuple[int, ...] | None = None,
    min_nights: int | None = None,
) -> FrostForecaster:
    """Train on the site's hourly file and save the model and its metadata into `out_dir`."""
    params: dict[str, object] = {}
    if issue_hours is not None:
        params["issue_hours"] = issue_hours
    if min_nights is not None:
        params["min_nights"] = min_nights
    model = FrostForecaster(**params).fit(read_weather(weather_csv))  # type: ignore[arg-type]
    save_model(model, out_dir)
    return model


FROST_WARNING = "frost"


def _row(f: NightForecast, stage: Stage | None) -> dict[str, object]:
    """One output row; `observed` is the file's own minimum, never an input of the forecast.

    `warning` is the one frost-warning decision (P(minimum <= 0 °C) >= p*, docs/frost.md);
    `bud_warning`, with a bud stage, the level from the stage's critical temperatures.
    """
    row: dict[str, object] = {
        "date": f.date.isoformat(),
        "issued_at": f.issued_at.isoformat(timespec="minutes"),
        "forecast": f.forecast,
        "low": f.low,
        "high": f.high,
        "method": f.method.value,
        "observed": f.observed,
        "p_frost": "" if math.isnan(f.p_frost) else f"{f.p_frost:.3f}",
        "warning": FROST_WARNING if f.warned else "",
    }
    if stage is not None:
        level = frost_warning(f.low, stage)
        row["bud_warning"] = "" if level is None else level.value
    return row


def predict_csv(
    model_dir: Path, weather_csv: Path, out_csv: Path, *, stage: str | None = None
) -> PredictReport:
    """Forecast every issue time the file reaches; write one row per night and issue time."""
    bud = None if stage is None else critical_temperature(stage).stage
    model = load_model(model_dir)
    forecasts = model.predict_nights(read_weather(weather_csv))
    write_forecasts(out_csv, (_row(f, bud) for f in forecasts))
    return PredictReport(forecasts, Counter(f.method.value for f in forecasts))

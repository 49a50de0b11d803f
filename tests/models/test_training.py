"""`shinshu train` against real InfluxDB holding two backfilled years of simulated lettuce farms,
whose seasons the backfill entered as planting and harvest work records."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from support import Services, make_influx, service_env, wait_until

from models.harvest.csvio import EPOCH, write_seasons
from models.harvest.persist import HARVEST_CODEC
from models.harvest.predict import predict_all
from models.harvest.types import SeasonRecord
from models.registry import ModelRegistry, ModelStatus
from models.store_weather import read_daily_weather
from models.train_cli import parse_every
from simulators.backfill import backfill
from simulators.scenario import Scenario, Truth
from storage.influx.client import InfluxStore

pytestmark = pytest.mark.integration

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
YEARS = 2
FARMS = 4  # the four Kawakami lettuce fields: two seasons each a year
TENANT = "alpha"
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Farmland:
    """A database with the tenant's backfilled farms and the true seasons as a CSV file."""

    services: Services
    database: str
    store: InfluxStore
    seasons_csv: Path
    seasons: list[SeasonRecord]


@pytest.fixture(scope="module")
def farmland(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farmland]:
    """Two years of hourly readings of four farms; seasons keyed by site as people record them."""
    database = f"train_{uuid.uuid4().hex[:10]}"
    store = make_influx(services.influx, database)
    store.ensure_database()
    truth = Truth()
    start_ms = int(START.timestamp() * 1000)
    scenario = Scenario(FARMS, 0, 0, start_ms, YEARS * 365 * 86_400_000, 3_600_000, seed=5)
    report = backfill(scenario, store, TENANT, truth, progress=lambda _line: None)
    assert report.refused == 0
    seasons = [
        SeasonRecord(
            s.site, s.crop.value, (s.planted - EPOCH).days, (s.maturity - EPOCH).days, s.yield_t_ha
        )
        for s in truth.seasons
    ]
    path = write_seasons(tmp_path_factory.mktemp("seasons") / "seasons.csv", seasons)
    yield Farmland(services, database, store, path, seasons)


def _train(farmland: Farmland, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu train` for the tenant with the farmland's store and `data_dir`."""
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "train", "--tenant", TENANT, *args],
        env=service_env(farmland.services, farmland.database, data_dir=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_train_fits_from_the_store_and_registers_a_version(
    farmland: Farmland, tmp_path: Path
) -> None:
    """The command reads the store, reports progress, and registers a scored, loadable model."""
    result = _train(farmland, tmp_path, "--end", "2027-01-31")
    out = result.stdout
    assert f"{len(farmland.seasons)} season(s) from the planting and harvest records" in out, (
        out + result.stderr
    )
    assert "reading daily weather of 4 field(s)" in out, out + result.stderr
    assert "holding out" in out and "registered harvest v1" in out
    registry = ModelRegistry.for_tenant(tmp_path, TENANT)
    [meta] = registry.versions("harvest")
    assert result.returncode == (0 if meta.status is ModelStatus.GOOD else 3), result.stderr
    # The recorded window is the weather actually found: the backfill's span in local days.
    assert meta.window_end == dt.date(2026, 12, 31)
    assert (
        dt.date(2025, 1, 1)
        <= meta.window_start
        < min(EPOCH + dt.timedelta(days=s.planting) for s in farmland.seasons)
    )
    gated = {k: m for k, m in meta.metrics.items() if m.baseline is not None}
    assert set(gated) == {"maturity_mae_days_at_50", "maturity_mae_days_at_75", "yield_mae_at_75"}
    assert meta.status is (
        ModelStatus.GOOD if all(m.passed for m in gated.values()) else ModelStatus.REJECTED
    )
    assert meta.data["seasons"] == len(farmland.seasons)
    assert meta.data["held_out"] >= 3
    assert meta.data["yield_unit"] == "t/ha"
    # The training data lists every season with the records it came from.
    listed = {(s["site"], s["planting_date"]) for s in meta.data["training_seasons"]}
    assert listed == {
        (s.field_id, (EPOCH + dt.timedelta(days=s.planting)).isoformat()) for s in farmland.seasons
    }
    document = json.loads((registry.root / "harvest" / "1" / "meta.json").read_text())
    assert document["training_window"]["end"] == "2026-12-31"
    model = registry.load(meta, HARVEST_CODEC)
    assert model.crops_["lettuce"].phenology is not None
    # Trained on the store's weather: the model predicts the recorded seasons from it.
    weather = read_daily_weather(
        farmland.store, TENANT, dict.fromkeys(model.weather_), meta.window_start, meta.window_end
    )
    rows = [replace(s, as_of=s.planting + 20) for s in farmland.seasons]
    errors = [abs(p.maturity - p.season.maturity) for p in predict_all(model, weather, rows, None)]
    assert np.median(errors) < 10


def test_too_few_seasons_are_registered_as_rejected(farmland: Farmland, tmp_path: Path) -> None:
    """Without enough seasons to hold some out, the version is kept but never served."""
    result = _train(farmland, tmp_path, "--start", "2026-01-01", "--end", "2027-01-31")
    assert result.returncode == 3, result.stdout + result.stderr
    registry = ModelRegistry.for_tenant(tmp_path, TENANT)
    [meta] = registry.versions("harvest")
    assert meta.status is ModelStatus.REJECTED and "too few" in meta.reason
    assert registry.newest_good("harvest") is None


def test_unusable_seasons_file_is_exit_2(farmland: Farmland, tmp_path: Path) -> None:
    """A seasons file without truth is refused with its line, and nothing is registered."""
    bad = tmp_path / "bad.csv"
    bad.write_text("field_id,crop,planting_date\nkawakami-01,lettuce,2025-05-05\n")
    result = _train(farmland, tmp_path, "--seasons", str(bad))
    assert result.returncode == 2
    assert "training needs maturity_date and yield" in result.stderr
    assert ModelRegistry.for_tenant(tmp_path, TENANT).versions() == []


def test_every_retrains_until_sigterm(farmland: Farmland, tmp_path: Path) -> None:
    """`--every` trains at once, waits for the next run, and stops cleanly on SIGTERM."""
    log = tmp_path / "train.log"
    command = ["train", "--tenant", TENANT, "--start", "2026-06-01", "--every", "24h"]
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shinshu.cli", *command],
            env=service_env(farmland.services, farmland.database, data_dir=str(tmp_path)),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: "next run at" in log.read_text(), 120, "the first training run")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "stopped" in log.read_text()
    assert len(ModelRegistry.for_tenant(tmp_path, TENANT).versions("harvest")) == 1


def test_daily_weather_equals_the_raw_points_in_tokyo_days(farmland: Farmland) -> None:
    """Daily min/max temperature, radiation, rain and soil moisture match the raw readings."""
    first, last = dt.date(2025, 7, 1), dt.date(2025, 7, 5)
    site = "kawakami-02"
    weather = read_daily_weather(farmland.store, TENANT, {site: None}, first, last)[site]
    start = dt.datetime.combine(first, dt.time(), TOKYO)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), TOKYO)
    expected: dict[str, np.ndarray] = {}
    for kind in ("air_temperature", "solar_radiation", "rainfall", "soil_moisture"):
        series = farmland.store.query(
            f'SELECT "value" FROM "{kind}" WHERE "tenant" = \'{TENANT}\' AND '
            f"\"site\" = '{site}' AND time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
        )[0]["series"][0]["values"]
        days = np.array(
            [(dt.datetime.fromtimestamp(t / 1000, TOKYO).date() - first).days for t, _ in series]
        )
        values = np.array([v for _, v in series], dtype=np.float64)
        expected[kind] = np.array(
            [
                [
                    values[days == d].min(),
                    values[days == d].max(),
                    values[days == d].mean(),
                    values[days == d].sum(),
                ]
                for d in range(5)
            ]
        )
    t, r, rain, soil = (
        expected[k] for k in ("air_temperature", "solar_radiation", "rainfall", "soil_moisture")
    )
    np.testing.assert_allclose(weather.tmin, t[:, 0], atol=1e-9)
    np.testing.assert_allclose(weather.tmax, t[:, 1], atol=1e-9)
    np.testing.assert_allclose(weather.radiation, r[:, 2] * 0.0864, atol=1e-9)
    np.testing.assert_allclose(weather.rain, rain[:, 3], atol=1e-9)
    np.testing.assert_allclose(weather.soil_moisture, soil[:, 2], atol=1e-9)
    assert weather.first_day == (first - EPOCH).days and len(weather.tmin) == 5


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400.0), ("30m", 1800.0), ("1d", 86400.0)])
def test_every_accepts_periods(text: str, seconds: float) -> None:
    """Periods are a number and a unit."""
    assert parse_every(text) == seconds

"""Model registry: skops round trip, newest good version served, rejected and untrusted refused."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from evaluation.harvest import simulate_dataset
from models.harvest import HarvestForecaster, HarvestModelError, load_model, save_model
from models.harvest.persist import HARVEST_CODEC
from models.harvest.predict import predict_all
from models.registry import (
    Codec,
    Metric,
    ModelRegistry,
    ModelStatus,
    RegistryError,
    UntrustedModelError,
)

WINDOW = (dt.date(2026, 1, 1), dt.date(2028, 12, 31))
PLAIN: Codec[Any] = Codec(encode=lambda m: m, decode=lambda s: s, trusted=())


class Smuggled:
    """A type no model file may name: loading must refuse it, not construct it."""

    def __init__(self) -> None:
        """Hold one attribute."""
        self.payload = "not a model"


def _ridge(slope: float) -> Ridge:
    """A tiny fitted estimator whose coefficient tells versions apart."""
    x = np.arange(10.0)[:, None]
    return Ridge(alpha=1e-9).fit(x, slope * x[:, 0])


def _good() -> dict[str, Metric]:
    return {"mae": Metric(1.0, baseline=2.0)}


def _failed() -> dict[str, Metric]:
    return {"mae": Metric(3.0, baseline=2.0, passed=False)}


@pytest.fixture(scope="module")
def harvest_model() -> tuple[HarvestForecaster, dict, list]:
    """A harvest model fitted on three simulated years, with its weather and seasons."""
    weather, seasons = simulate_dataset(11, 2026, 3)
    return HarvestForecaster().fit(weather, seasons), weather, seasons


def test_harvest_model_round_trips_through_skops(tmp_path: Path, harvest_model: tuple) -> None:
    """A registered harvest model loads back and predicts exactly what the original predicts."""
    model, weather, seasons = harvest_model
    registry = ModelRegistry(tmp_path)
    meta = registry.register(
        "harvest",
        model,
        HARVEST_CODEC,
        window=WINDOW,
        metrics=_good(),
        data={"seasons": len(seasons)},
    )
    assert (meta.version, meta.status) == (1, ModelStatus.GOOD)
    assert registry.path(meta).name == "model.skops"
    document = json.loads((tmp_path / "harvest" / "1" / "meta.json").read_text())
    assert document["training_window"] == {"start": "2026-01-01", "end": "2028-12-31"}
    assert document["metrics"]["mae"]["baseline"] == 2.0
    assert document["status"] == "good"
    assert document["data"] == {"seasons": len(seasons)}
    loaded = registry.load(registry.newest_good("harvest"), HARVEST_CODEC)  # type: ignore[arg-type]
    rows = [replace(s, as_of=s.planting + 30) for s in seasons]
    assert predict_all(loaded, weather, rows, None) == predict_all(model, weather, rows, None)


def test_newest_good_version_wins_and_rejected_is_not_served(tmp_path: Path) -> None:
    """Versions count up; newest_good skips a newer rejected version; rejected stay listed."""
    registry = ModelRegistry(tmp_path)
    first = registry.register("m", _ridge(1.0), PLAIN, window=WINDOW, metrics=_good())
    second = registry.register("m", _ridge(2.0), PLAIN, window=WINDOW, metrics=_good())
    third = registry.register("m", _ridge(3.0), PLAIN, window=WINDOW, metrics=_failed())
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert third.status is ModelStatus.REJECTED
    assert "mae" in third.reason
    newest = registry.newest_good("m")
    assert newest is not None and newest.version == 2
    assert registry.load(newest, PLAIN).coef_[0] == pytest.approx(2.0)
    assert [m.version for m in registry.versions("m")] == [3, 2, 1]
    assert registry.names() == ["m"]


def test_only_rejected_versions_means_nothing_to_serve(tmp_path: Path) -> None:
    """A model that never passed its gate is not served at all."""
    registry = ModelRegistry(tmp_path)
    registry.register("m", _ridge(1.0), PLAIN, window=WINDOW, metrics=_failed())
    registry.register("m", _ridge(1.0), PLAIN, window=WINDOW, metrics=_good(), reason="too few")
    assert [m.status for m in registry.versions("m")] == [ModelStatus.REJECTED] * 2
    assert registry.newest_good("m") is None
    assert registry.newest_good("unknown") is None


def test_untrusted_type_in_a_model_file_is_refused(tmp_path: Path) -> None:
    """A file naming a type outside the trusted list is refused before anything is built."""
    registry = ModelRegistry(tmp_path)
    smuggling: Codec[Any] = Codec(encode=lambda m: m, decode=lambda s: s, trusted=())
    meta = registry.register(
        "m", {"ridge": _ridge(1.0), "extra": Smuggled()}, smuggling, window=WINDOW, metrics=_good()
    )
    with pytest.raises(UntrustedModelError, match="Smuggled"):
        registry.load(meta, PLAIN)
    # The same file planted in place of a harvest model's is refused by the harvest loader too.
    target = tmp_path / "h"
    target.mkdir()
    registry.path(meta).replace(target / "model.skops")
    with pytest.raises(HarvestModelError, match="untrusted"):
        load_model(target)


def test_tampered_file_and_legacy_pickle_are_refused(tmp_path: Path, harvest_model: tuple) -> None:
    """A model file whose digest changed is not loaded; an old pickle directory gets a reason."""
    registry = ModelRegistry(tmp_path / "reg")
    meta = registry.register("m", _ridge(1.0), PLAIN, window=WINDOW, metrics=_good())
    registry.path(meta).write_bytes(registry.path(meta).read_bytes() + b"x")
    with pytest.raises(RegistryError, match="digest"):
        registry.load(meta, PLAIN)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "model.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(HarvestModelError, match="older pickled model"):
        load_model(legacy)
    model, _, _ = harvest_model
    save_model(model, tmp_path / "dir")
    assert (tmp_path / "dir" / "model.skops").exists()
    assert set(load_model(tmp_path / "dir").crops_) == set(model.crops_)


def test_tenants_have_separate_registries(tmp_path: Path) -> None:
    """A tenant's registry never lists another tenant's models."""
    alpha = ModelRegistry.for_tenant(tmp_path, "alpha")
    beta = ModelRegistry.for_tenant(tmp_path, "beta")
    alpha.register("harvest", _ridge(1.0), PLAIN, window=WINDOW, metrics=_good())
    assert alpha.root == tmp_path / "models" / "alpha"
    assert beta.newest_good("harvest") is None
    assert beta.versions() == []
    with pytest.raises(RegistryError):
        ModelRegistry.for_tenant(tmp_path, "../x")

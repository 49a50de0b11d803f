"""core.settings: one typed model, errors in words, secrets that never show."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import SettingsError
from core.settings import (
    ApiSettingsError,
    Settings,
    load_api_settings,
    load_settings,
    map_tiles,
    reveal,
)


def test_no_secret_has_a_default_and_secrets_stay_secret() -> None:
    """Passwords and tokens default to none and are SecretStr once set."""
    defaults = Settings()
    secrets = [
        f.name for f in dataclasses.fields(Settings) if "password" in f.name or "token" in f.name
    ]
    assert all(getattr(defaults, name) is None for name in secrets if not name.endswith("_file"))
    loaded = load_settings(env={"SHINSHU_MQTT_PASSWORD": "hunter2"})
    assert isinstance(loaded.mqtt_password, SecretStr) and reveal(loaded.mqtt_password) == "hunter2"
    assert "hunter2" not in repr(loaded) and "hunter2" not in str(loaded)


def test_values_get_their_types_and_checks_hold_however_settings_are_built() -> None:
    """Direct construction and dataclasses.replace validate like the loader."""
    settings = Settings(ingest_batch_points="10", data_dir="/srv/shinshu")  # type: ignore[arg-type]
    assert settings.ingest_batch_points == 10 and settings.data_dir == Path("/srv/shinshu")
    with pytest.raises(SettingsError, match="must be positive"):
        dataclasses.replace(settings, ingest_batch_ms=0)
    with pytest.raises(SettingsError, match="unknown setting influx_bd"):
        Settings(influx_bd="x")  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="ingest_batch_points must be of type int, not float"):
        Settings(ingest_batch_points=1.5)  # type: ignore[arg-type]


def test_api_settings_name_their_variables() -> None:
    """SHINSHU_API_* errors name the variable; lower-case variable names are read too."""
    api = load_api_settings(Settings(), env={"shinshu_api_rate_burst": "7"})
    assert api.rate_burst == 7
    with pytest.raises(ApiSettingsError, match="SHINSHU_API_RATE_PER_S: cannot read 'fast'"):
        load_api_settings(Settings(), env={"SHINSHU_API_RATE_PER_S": "fast"})


def test_the_map_tile_source_is_optional_gsi_or_a_template() -> None:
    """No map by default; "gsi" names the 地理院タイル; anything else must be a tile template."""
    assert map_tiles(load_api_settings(Settings(), env={})) is None
    gsi = map_tiles(load_api_settings(Settings(), env={"SHINSHU_API_MAP_TILES": "gsi"}))
    assert gsi is not None
    assert gsi[0] == "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
    assert "地理院タイル" in gsi[1]
    own = "https://tiles.example.org/{z}/{x}/{y}.png"
    env = {"SHINSHU_API_MAP_TILES": own, "SHINSHU_API_MAP_ATTRIBUTION": "© town"}
    assert map_tiles(load_api_settings(Settings(), env=env)) == (own, "© town")
    for wrong in (
        "tiles.example.org/{z}/{x}/{y}",
        "https://tiles.example.org/{z}.png",
        "ftp://x/{z}/{x}/{y}",
    ):
        with pytest.raises(ApiSettingsError, match="MAP_TILES"):
            load_api_settings(Settings(), env={"SHINSHU_API_MAP_TILES": wrong})


def test_raw_retention_needs_rollup_reads() -> None:
    """Retention without rollup reads would lose aggregates past the horizon: refused."""
    kept = load_settings(env={"SHINSHU_RAW_RETENTION_DAYS": "30", "SHINSHU_ROLLUP_READS": "1"})
    assert (kept.raw_retention_days, kept.rollup_reads) == (30, True)
    with pytest.raises(SettingsError, match="needs SHINSHU_ROLLUP_READS"):
        load_settings(env={"SHINSHU_RAW_RETENTION_DAYS": "30"})
    with pytest.raises(SettingsError, match="RAW_RETENTION_DAYS must be 0"):
        Settings(raw_retention_days=-1, rollup_reads=True)

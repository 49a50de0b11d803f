"""Settings: defaults, TOML, SHINSHU_ variables and flags, in that order of priority."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings


def test_environment_overrides_file_and_flags_override_both(tmp_path: Path) -> None:
    """Each later source wins, and values get their field's type."""
    config = tmp_path / "s.toml"
    config.write_text('influx_db = "from_file"\ningest_batch_points = 10\ntenant = "file"\n')
    env = {"SHINSHU_INFLUX_DB": "from_env", "SHINSHU_INFLUX_GZIP": "yes", "OTHER": "x"}
    settings = load_settings(config, env=env, overrides={"tenant": "flag", "site": None})
    assert settings.influx_db == "from_env"
    assert settings.ingest_batch_points == 10
    assert settings.influx_gzip is True
    assert settings.tenant == "flag"
    assert settings.site == Settings().site


def test_secrets_stay_out_of_repr() -> None:
    """Passwords and tokens never appear when settings are logged."""
    settings = load_settings(env={"SHINSHU_INFLUX_TOKEN": "s3cret-token"})
    assert "s3cret-token" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHINSHU_INGEST_BATCH_POINTS": "many"}, "cannot read 'many' as int"),
        ({"SHINSHU_INFLUX_GZIP": "perhaps"}, "cannot read 'perhaps' as bool"),
        ({"SHINSHU_INFLUX_USER": "u"}, "go together"),
        (
            {
                "SHINSHU_INFLUX_TOKEN": "t",
                "SHINSHU_INFLUX_USER": "u",
                "SHINSHU_INFLUX_PASSWORD": "p",
            },
            "either",
        ),
        ({"SHINSHU_INGEST_BATCH_MS": "0"}, "must be positive"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str], message: str) -> None:
    """A wrong value names the setting and the problem."""
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    """A typo in the TOML file is an error, not silently ignored."""
    config = tmp_path / "s.toml"
    config.write_text('influx_bd = "x"\n')
    with pytest.raises(SettingsError, match="influx_bd"):
        load_settings(config, env={})


def test_the_influx_password_is_read_from_its_file_only_when_private(tmp_path: Path) -> None:
    """A password file stands in for the password; one others can read is refused."""
    secret = tmp_path / "influxdb.secret"
    secret.write_text("pw-from-file\n")
    secret.chmod(0o600)
    env = {"SHINSHU_INFLUX_USER": "shinshu", "SHINSHU_INFLUX_PASSWORD_FILE": str(secret)}
    settings = load_settings(env=env)
    assert settings.influx_secret() == "pw-from-file"
    assert "pw-from-file" not in repr(settings)
    secret.chmod(0o640)
    with pytest.raises(SettingsError, match="group or others"):
        settings.influx_secret()
    with pytest.raises(SettingsError, match="not both"):
        load_settings(env={**env, "SHINSHU_INFLUX_PASSWORD": "p"})
    with pytest.raises(SettingsError, match="go together"):
        load_settings(env={"SHINSHU_INFLUX_PASSWORD_FILE": str(secret)})

"""Typed settings, read once: defaults, then a TOML file, then `SHINSHU_*` variables, then flags.

`Settings` is what every service reads; `ApiSettings` adds the web API's `SHINSHU_API_*` on
top. Standard library and the edge package only (no server dependencies).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from edge.credentials import CredentialError, read_secret_file, systemd_credential
from edge.mqtt import MqttEndpoint

ENV_PREFIX = "SHINSHU_"


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of every service; field `x` is also `SHINSHU_X` and `x` in the TOML file."""

    mqtt_url: str = "mqtt://localhost:1883"
    # The service's broker account: its username (default: the service's client id) and its
    # secret, from a file only the service user can read (default:
    # `<data_dir>/secrets/<username>.secret`, as `shinshu broker init` writes it).
    mqtt_username: str | None = None
    mqtt_password: str | None = _secret()
    mqtt_password_file: Path | None = None
    # mqtts://: the private CA that signed the broker's certificate, and a client certificate.
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    influx_url: str = "http://localhost:8086"
    influx_db: str = "shinshu"
    influx_token: str | None = _secret()
    influx_user: str | None = None
    influx_password: str | None = _secret()
    influx_create_db: bool = True
    influx_gzip: bool = False
    data_dir: Path = Path("~/.local/share/shinshu")
    log_level: str = "INFO"

    ingest_client_id: str = "shinshu-ingest"
    # With a group, workers share `$share/<group>/...` and split the load.
    ingest_group: str | None = None
    ingest_batch_points: int = 5_000
    ingest_batch_ms: int = 200
    # Unacknowledged messages the broker may push to one worker: bounds its memory.
    ingest_receive_maximum: int = 1_000
    ingest_session_expiry_s: int = 7 * 24 * 3600
    ingest_metrics_port: int = 9101
    ingest_skew_threshold_s: float = 300.0
    ingest_retry_max_s: float = 5.0
    ingest_shutdown_grace_s: float = 10.0

    # `shinshu alerts`: its own persistent session (it must see every message, not a share).
    alerts_client_id: str = "shinshu-alerts"
    alerts_metrics_port: int = 9102
    alerts_receive_maximum: int = 1_000
    alerts_lead_time_h: float = 24.0
    alerts_history_h: float = 72.0
    alerts_episode_gap_h: float = 6.0

    # `shinshu serve`: its broker account publishes device configuration.
    api_client_id: str = "shinshu-api"
    # `shinshu devices` and the API's device routes change broker accounts with this account.
    control_username: str = "shinshu-control"
    control_password_file: Path | None = None

    tenant: str = "demo"
    site: str = "sim"

    def __post_init__(self) -> None:
        """Refuse combinations that cannot work."""
        if self.influx_token and (self.influx_user or self.influx_password):
            raise SettingsError("set either SHINSHU_INFLUX_TOKEN or user and password, not both")
        if bool(self.influx_user) != bool(self.influx_password):
            raise SettingsError("SHINSHU_INFLUX_USER and SHINSHU_INFLUX_PASSWORD go together")
        if self.mqtt_password and self.mqtt_password_file:
            raise SettingsError("set SHINSHU_MQTT_PASSWORD or SHINSHU_MQTT_PASSWORD_FILE, not both")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise SettingsError("SHINSHU_MQTT_CERT_FILE and SHINSHU_MQTT_KEY_FILE go together")
        for name in ("ingest_batch_points", "ingest_batch_ms", "ingest_receive_maximum"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")

    @property
    def data_path(self) -> Path:
        """The data folder with `~` expanded."""
        return self.data_dir.expanduser()

    @property
    def secrets_path(self) -> Path:
        """Where `shinshu broker init` keeps the service accounts' secrets."""
        return self.data_path / "secrets"

    @property
    def registry_path(self) -> Path:
        """The account registry (devices and services)."""
        return self.data_path / "registry.sqlite3"

    def mqtt_endpoint(self, username: str) -> MqttEndpoint:
        """The broker as account `username` (unless SHINSHU_MQTT_USERNAME names another)."""
        endpoint = MqttEndpoint.from_url(self.mqtt_url)
        user = self.mqtt_username or endpoint.username or username
        password = self.mqtt_password or endpoint.password
        if password is None:
            password = _read_secret(
                self.mqtt_password_file, "mqtt-password", self.secrets_path / f"{user}.secret"
            )
        return self._with_tls(endpoint.with_login(user, password))

    def _with_tls(self, endpoint: MqttEndpoint) -> MqttEndpoint:
        """`endpoint` with this installation's CA and client certificate if it uses TLS."""
        if not endpoint.tls:
            return endpoint
        return endpoint.with_tls_files(self.mqtt_ca_file, self.mqtt_cert_file, self.mqtt_key_file)

    def control_endpoint(self) -> MqttEndpoint:
        """The broker as the control account that changes accounts."""
        endpoint = MqttEndpoint.from_url(self.mqtt_url)
        password = _read_secret(
            self.control_password_file,
            "control-password",
            self.secrets_path / f"{self.control_username}.secret",
        )
        if password is None:
            raise SettingsError(
                f"no secret for the broker control account {self.control_username}: set "
                "SHINSHU_CONTROL_PASSWORD_FILE or run `shinshu broker init`"
            )
        return self._with_tls(endpoint.with_login(self.control_username, password))


def _read_secret(configured: Path | None, credential: str, default: Path) -> str | None:
    """The secret in the configured file (which must exist), else in the systemd credential
    `credential`, else in `default` if it exists; None when there is none."""
    path = configured.expanduser() if configured is not None else systemd_credential(credential)
    if path is None:
        if not default.exists():
            return None
        path = default
    try:
        return read_secret_file(path)
    except CredentialError as exc:
        raise SettingsError(str(exc)) from exc


def _field_type(name: str) -> type:
    hint = typing.get_type_hints(Settings)[name]
    if isinstance(hint, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint  # type: ignore[no-any-return]


def _coerce(name: str, raw: Any) -> Any:
    """Convert a raw value (string from the environment, or TOML value) to the field's type."""
    kind = _field_type(name)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if not isinstance(raw, str):
        raise SettingsError(f"{name} must be of type {kind.__name__}, not {type(raw).__name__}")
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: cannot read {raw!r} as {kind.__name__}") from exc


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, the TOML file, the environment and flag overrides (later ones win)."""
    names = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    if config is not None:
        try:
            document = tomllib.loads(config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read {config}: {exc}") from exc
        unknown = sorted(set(document) - names)
        if unknown:
            raise SettingsError(f"unknown settings in {config}: {', '.join(unknown)}")
        values.update(document)
    environment = os.environ if env is None else env
    for key, raw in environment.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in names:
                values[name] = raw
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings(**{name: _coerce(name, raw) for name, raw in values.items()})


API_PREFIX = "SHINSHU_API_"


class ApiSettingsError(SettingsError):
    """An API setting is missing, malformed or out of range."""


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Everything the web API needs, created once at start and passed to `create_app`."""

    store: Settings
    keys_path: Path
    # Token bucket per API key: sustained requests per second and the burst allowed above it.
    rate_per_s: float = 20.0
    rate_burst: int = 40
    # Token bucket per client address, spent only by wrong keys: after a burst of failures the
    # address gets 429 before its keys are looked up, and earns a new attempt at this rate.
    auth_failure_rate_per_s: float = 1.0
    auth_failure_burst: int = 10
    # An export reads the store one window at a time; this bounds the rows held in memory.
    export_window_rows: int = 20_000
    # The sites/devices catalogue (with last-seen times) is cached this long and then refreshed
    # in the background: its `last()` over all history is the API's most expensive query.
    catalogue_ttl_s: float = 15.0
    # Identical aggregate queries (many people looking at one chart) share an answer this long;
    # 0 turns the cache off.
    aggregate_ttl_s: float = 5.0
    licence: str = "CC-BY-4.0"
    publisher: str = "Shinshu IoT"
    dataset_title: str = "Shinshu IoT sensor readings"

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.rate_per_s <= 0 or self.rate_burst < 1:
            raise ApiSettingsError("SHINSHU_API_RATE_PER_S and _RATE_BURST must be positive")
        if self.auth_failure_rate_per_s <= 0 or self.auth_failure_burst < 1:
            raise ApiSettingsError(
                "SHINSHU_API_AUTH_FAILURE_RATE_PER_S and _AUTH_FAILURE_BURST must be positive"
            )
        if self.export_window_rows < 1_000:
            raise ApiSettingsError("SHINSHU_API_EXPORT_WINDOW_ROWS must be at least 1000")
        if self.catalogue_ttl_s < 0 or self.aggregate_ttl_s < 0:
            raise ApiSettingsError("SHINSHU_API_*_TTL_S cannot be negative")
        if not self.licence.strip() or not self.publisher.strip():
            raise ApiSettingsError("SHINSHU_API_LICENCE and SHINSHU_API_PUBLISHER cannot be empty")


_NUMBERS: dict[str, type] = {
    "rate_per_s": float,
    "rate_burst": int,
    "auth_failure_rate_per_s": float,
    "auth_failure_burst": int,
    "export_window_rows": int,
    "catalogue_ttl_s": float,
    "aggregate_ttl_s": float,
}
_TEXTS = ("licence", "publisher", "dataset_title")


def load_api_settings(store: Settings, env: Mapping[str, str] | None = None) -> ApiSettings:
    """Read `SHINSHU_API_*` on top of the platform settings; keys live under the data dir."""
    environment = os.environ if env is None else env
    values: dict[str, object] = {}
    for name, kind in _NUMBERS.items():
        raw = environment.get(API_PREFIX + name.upper())
        if raw is not None:
            try:
                values[name] = kind(raw)
            except ValueError as exc:
                raise ApiSettingsError(f"{API_PREFIX}{name.upper()}: cannot read {raw!r}") from exc
    for name in _TEXTS:
        raw = environment.get(API_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    keys = environment.get(API_PREFIX + "KEYS_PATH")
    keys_path = Path(keys).expanduser() if keys else store.data_path / "api_keys.sqlite3"
    return ApiSettings(store=store, keys_path=keys_path, **values)  # type: ignore[arg-type]

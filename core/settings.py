"""Typed settings, read once: defaults, then a TOML file, then `SHINSHU_*` variables, then flags.

`Settings` is what every service reads; each service's own fields carry its prefix (`ingest_`,
`alerts_`, `api_`, `control_`). `ApiSettings` adds the web API's `SHINSHU_API_*` on top. Both
are frozen pydantic dataclasses, so that a value gets its field's type however the settings
are built and `dataclasses.replace` works; pydantic-settings looks the variables up. A value
that does not fit is a `SettingsError` that names the setting. Secrets are `SecretStr`, never
shown in a repr or a log line.

Server side only: the edge agent has its own loader (`edge.config`, standard library only),
since a Pi does not have pydantic.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, SecretStr, ValidationError, create_model
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource

from core.errors import SettingsError
from edge.credentials import CredentialError, read_secret_file, systemd_credential
from edge.mqtt import MqttEndpoint

ENV_PREFIX = "SHINSHU_"
API_PREFIX = "SHINSHU_API_"
# `sqlite:///var/lib/shinshu/store.sqlite3` is the file /var/lib/shinshu/store.sqlite3.
SQLITE_SCHEME = "sqlite://"

_Model = TypeVar("_Model")


class ApiSettingsError(SettingsError):
    """An API setting is missing, malformed or out of range."""


def reveal(secret: SecretStr | None) -> str | None:
    """The text of a secret setting, for the client that needs it (None stays None)."""
    return secret.get_secret_value() if secret is not None else None


def _kind(model: type, name: str) -> str:
    """The name of a field's type, as a user would write it (`int`, `bool`, `Path`, ...)."""
    hint = typing.get_type_hints(model).get(name)
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if hint is SecretStr:
        return "str"
    return getattr(hint, "__name__", str(hint))


def _explain(model: type, exc: ValidationError, label: Callable[[str], str]) -> str:
    """What pydantic found wrong, in words that name each setting as its user writes it."""
    problems = []
    for problem in exc.errors():
        check = problem.get("ctx", {}).get("error")
        if isinstance(check, SettingsError):
            # A check of the model itself (two settings that go together, ...): its own words.
            problems.append(str(check))
            continue
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        raw = problem.get("input")
        if problem["type"] == "unexpected_keyword_argument":
            problems.append(f"unknown setting {label(name)}")
        elif problem["type"] == "missing":
            problems.append(f"{label(name)} is not set")
        elif isinstance(raw, str):
            problems.append(f"{label(name)}: cannot read {raw!r} as {_kind(model, name)}")
        else:
            kind = _kind(model, name)
            problems.append(f"{label(name)} must be of type {kind}, not {type(raw).__name__}")
    return "; ".join(problems)


def _refusing(
    error: type[SettingsError], label: Callable[[str], str]
) -> Callable[[type[_Model]], type[_Model]]:
    """Make building the model raise `error` with the settings named, not a ValidationError.

    Applies however the settings are built: by a loader, by a test, or `dataclasses.replace`.
    """

    def decorate(model: type[_Model]) -> type[_Model]:
        """Wrap the model's validating `__init__`."""
        validate = model.__init__

        @functools.wraps(validate)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            """Validate as pydantic does; refuse in the platform's words."""
            try:
                validate(self, *args, **kwargs)
            except ValidationError as exc:
                raise error(_explain(model, exc, label)) from exc

        model.__init__ = init  # type: ignore[misc]
        return model

    return decorate


@_refusing(SettingsError, lambda name: name)
@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class Settings:
    """Configuration of every service; field `x` is also `SHINSHU_X` and `x` in the TOML file.

    Secrets have no defaults: they come from the environment, a file only the service user
    can read, or a systemd credential.
    """

    mqtt_url: str = "mqtt://localhost:1883"
    # The service's broker account: its username (default: the service's client id) and its
    # secret, from a file only the service user can read (default:
    # `<data_dir>/secrets/<username>.secret`, as `shinshu broker init` writes it).
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = None
    # mqtts://: the private CA that signed the broker's certificate, and a client certificate.
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    # Which store: empty for InfluxDB at `influx_url`, or `sqlite:///path/to/file.sqlite3`
    # (one file, for a single Pi or a laptop without InfluxDB).
    store: str = ""
    influx_url: str = "http://localhost:8086"
    influx_db: str = "shinshu"
    influx_token: SecretStr | None = None
    influx_user: str | None = None
    influx_password: SecretStr | None = None
    # The password in a file only the service user can read (mode 0600), read when the store
    # is opened: a production install keeps it there, never in the TOML file or a variable.
    influx_password_file: Path | None = None
    influx_create_db: bool = True
    # InfluxDB 1.x's backup and restore service (`bind-address` in influxdb.conf): loopback only,
    # it has no authentication. `shinshu backup` and `restore` run `influxd` against it.
    influx_backup_address: str = "127.0.0.1:8088"
    influx_gzip: bool = False
    data_dir: Path = Path("~/.local/share/shinshu")
    log_level: str = "INFO"
    # "text" (a line per record) or "json" (one object per line, for a log collector).
    log_format: Literal["text", "json"] = "text"
    # Where ingest, alerts and the notifier serve /metrics, /healthz and /readyz. The default
    # keeps them on this machine; a Prometheus elsewhere needs e.g. 0.0.0.0 behind a firewall.
    metrics_host: str = "127.0.0.1"

    ingest_client_id: str = "shinshu-ingest"
    # With a group, workers share `$share/<group>/...` and split the load.
    ingest_group: str | None = None
    ingest_batch_points: int = 5_000
    ingest_batch_ms: int = 200
    # Write at once whenever the writer is idle (low latency at low rates); under load the next
    # batch gathers while one is written. Off: every batch waits for `ingest_batch_ms` or fills.
    ingest_group_commit: bool = True
    # Unacknowledged messages the broker may push to one worker: bounds its memory.
    ingest_receive_maximum: int = 1_000
    ingest_session_expiry_s: int = 7 * 24 * 3600
    ingest_metrics_port: int = 9101
    ingest_skew_threshold_s: float = 300.0
    ingest_retry_max_s: float = 5.0
    ingest_shutdown_grace_s: float = 10.0
    # Where ingest reads from: `mqtt` (a persistent session on `mqtt_url`), or `amqp`: the
    # quorum queue `amqp_queue` on a RabbitMQ cluster, one or more nodes in `amqp_url`
    # (`amqp://node1:5672,node2:5672/`, never with credentials in it). Its account is
    # `amqp_username` (default: the ingest client id) with its secret in `amqp_password_file`
    # (default: `<data_dir>/secrets/<username>.secret`).
    ingest_source: str = "mqtt"
    amqp_url: str = "amqp://localhost:5672/"
    amqp_username: str | None = None
    amqp_password_file: Path | None = None
    amqp_queue: str = "shinshu.ingest"

    # `shinshu alerts`: its own persistent session (it must see every message, not a share).
    alerts_client_id: str = "shinshu-alerts"
    alerts_metrics_port: int = 9102
    alerts_receive_maximum: int = 1_000
    alerts_lead_time_h: float = 24.0
    alerts_history_h: float = 72.0
    alerts_episode_gap_h: float = 6.0
    # Device health: how often it is checked, and how long without a status counts as offline.
    alerts_health_s: float = 30.0
    alerts_offline_after_s: float = 900.0
    # A sensor without readings this long, while its device still reports, is silent.
    alerts_sensor_silent_after_s: float = 3600.0
    # Forecast checks (harvest windows): how often, and how many days ahead a window is news.
    alerts_forecast_s: float = 3600.0
    alerts_harvest_notice_days: int = 3
    # Field checks: frost at the issue times (a pass this often catches each soon after it),
    # the stored history the frost model trains on, and apple scab over the last hours.
    alerts_frost_s: float = 600.0
    alerts_frost_history_days: int = 365
    alerts_scab_s: float = 3600.0
    alerts_scab_lookback_h: int = 96
    # Landslide levels are computed on 10-minute steps: a pass a minute sees each new step soon.
    alerts_landslide_s: float = 60.0

    # `shinshu serve`: its broker account publishes device configuration.
    api_client_id: str = "shinshu-api"
    # `shinshu devices` and the API's device routes change broker accounts with this account.
    control_username: str = "shinshu-control"
    control_password_file: Path | None = None

    # `shinshu notify`: the outbox and subscriptions (default `<data_dir>/notifications.sqlite3`).
    notify_db: Path | None = None
    notify_metrics_port: int = 9103
    notify_poll_s: float = 0.5
    notify_sweep_s: float = 60.0
    notify_retry_max_s: float = 60.0
    notify_give_up_h: float = 24.0
    # E-mail: an SMTP server (starttls, tls, or none for a relay on this machine), the account,
    # its password in a file only the service user can read, and the sender address.
    notify_smtp_host: str | None = None
    notify_smtp_port: int = 587
    notify_smtp_security: str = "starttls"
    notify_smtp_username: str | None = None
    notify_smtp_password_file: Path | None = None
    notify_smtp_sender: str | None = None
    notify_smtp_ca_file: Path | None = None
    # Web Push: who runs this installation (the VAPID `sub` claim push services may contact).
    notify_vapid_contact: str = ""

    # `shinshu rollup`: how often it rolls marked hours up, and how old a mark must be first
    # (a mark younger than this may not be readable yet; see docs/storage.md).
    rollup_interval_s: float = 60.0
    # Whether ingest marks the hours each stored batch touched, for `shinshu rollup` to redo.
    rollups_enabled: bool = False
    rollup_lag_s: float = 120.0
    # Days raw readings are kept on InfluxDB (a retention policy `raw`; 0 = forever). Rollups,
    # marks and every other measurement stay in the database's default policy, kept forever.
    raw_retention_days: int = 0
    # Whether the API answers 1h, 6h and 1d aggregates from rollups: turn on only once every
    # writer of readings marks or rebuilds what it wrote (docs/storage.md); needed with retention.
    rollup_reads: bool = False

    tenant: str = "demo"
    site: str = "sim"

    def __post_init__(self) -> None:
        """Refuse combinations that cannot work."""
        if self.raw_retention_days < 0:
            raise SettingsError("SHINSHU_RAW_RETENTION_DAYS must be 0 (keep) or a number of days")
        if self.raw_retention_days and not self.rollup_reads:
            # Aggregates past the horizon exist only as rollups: raw reads would lose them.
            raise SettingsError("SHINSHU_RAW_RETENTION_DAYS needs SHINSHU_ROLLUP_READS=true")
        if self.notify_smtp_host and not self.notify_smtp_sender:
            raise SettingsError("SHINSHU_NOTIFY_SMTP_HOST needs SHINSHU_NOTIFY_SMTP_SENDER")
        if self.notify_smtp_security not in ("starttls", "tls", "none"):
            raise SettingsError("SHINSHU_NOTIFY_SMTP_SECURITY must be starttls, tls or none")
        if self.notify_smtp_security == "none" and self.notify_smtp_password_file:
            raise SettingsError("an SMTP password is never sent without TLS")
        if reveal(self.influx_token) and (self.influx_user or reveal(self.influx_password)):
            raise SettingsError("set either SHINSHU_INFLUX_TOKEN or user and password, not both")
        has_password = bool(reveal(self.influx_password)) or self.influx_password_file is not None
        if bool(self.influx_user) != has_password:
            raise SettingsError(
                "SHINSHU_INFLUX_USER and SHINSHU_INFLUX_PASSWORD (or _PASSWORD_FILE) go together"
            )
        if reveal(self.influx_password) and self.influx_password_file:
            raise SettingsError(
                "set SHINSHU_INFLUX_PASSWORD or SHINSHU_INFLUX_PASSWORD_FILE, not both"
            )
        if reveal(self.mqtt_password) and self.mqtt_password_file:
            raise SettingsError("set SHINSHU_MQTT_PASSWORD or SHINSHU_MQTT_PASSWORD_FILE, not both")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise SettingsError("SHINSHU_MQTT_CERT_FILE and SHINSHU_MQTT_KEY_FILE go together")
        if self.store and not (self.store.startswith(SQLITE_SCHEME) and self.sqlite_path):
            raise SettingsError(
                f"SHINSHU_STORE must be empty (InfluxDB) or {SQLITE_SCHEME}/path/to/file, "
                f"not {self.store!r}"
            )
        if self.ingest_source not in ("mqtt", "amqp"):
            raise SettingsError("SHINSHU_INGEST_SOURCE must be mqtt or amqp")
        if "@" in self.amqp_url:
            raise SettingsError("SHINSHU_AMQP_URL must not hold credentials: use the password file")
        for name in ("ingest_batch_points", "ingest_batch_ms", "ingest_receive_maximum"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file the store is in, None when the store is InfluxDB."""
        if not self.store.startswith(SQLITE_SCHEME):
            return None
        path = self.store.removeprefix(SQLITE_SCHEME)
        return Path(path).expanduser() if path.strip("/") else None

    @property
    def data_path(self) -> Path:
        """The data folder with `~` expanded."""
        return self.data_dir.expanduser()

    @property
    def secrets_path(self) -> Path:
        """Where `shinshu broker init` keeps the service accounts' secrets."""
        return self.data_path / "secrets"

    @property
    def notify_path(self) -> Path:
        """The notifier's outbox and subscriptions."""
        return (self.notify_db or self.data_path / "notifications.sqlite3").expanduser()

    @property
    def vapid_path(self) -> Path:
        """The server's VAPID key for Web Push (made at first use, mode 0600)."""
        return self.secrets_path / "vapid.pem"

    def influx_secret(self) -> str | None:
        """The InfluxDB password: the setting itself or the text of its file (None: no login)."""
        if self.influx_password_file is None:
            return reveal(self.influx_password)
        try:
            return read_secret_file(self.influx_password_file.expanduser())
        except CredentialError as exc:
            raise SettingsError(str(exc)) from exc

    def smtp_password(self) -> str | None:
        """The SMTP account's password, from its file (or the systemd credential)."""
        return _read_secret(
            self.notify_smtp_password_file, "smtp-password", self.secrets_path / "smtp.secret"
        )

    @property
    def registry_path(self) -> Path:
        """The account registry (devices and services)."""
        return self.data_path / "registry.sqlite3"

    def mqtt_endpoint(self, username: str) -> MqttEndpoint:
        """The broker as account `username` (unless SHINSHU_MQTT_USERNAME names another)."""
        endpoint = MqttEndpoint.from_url(self.mqtt_url)
        user = self.mqtt_username or endpoint.username or username
        password = reveal(self.mqtt_password) or endpoint.password
        if password is None:
            password = _read_secret(
                self.mqtt_password_file, "mqtt-password", self.secrets_path / f"{user}.secret"
            )
        return self._with_tls(endpoint.with_login(user, password))

    def amqp_login(self) -> tuple[str, str]:
        """The ingest account on the AMQP nodes: its username and secret (from its file)."""
        user = self.amqp_username or self.ingest_client_id
        password = _read_secret(
            self.amqp_password_file, "amqp-password", self.secrets_path / f"{user}.secret"
        )
        if password is None:
            raise SettingsError(
                f"no secret for AMQP account {user}: set SHINSHU_AMQP_PASSWORD_FILE"
            )
        return user, password

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


@_refusing(ApiSettingsError, lambda name: API_PREFIX + name.upper())
@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
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
    # The overview's background map: a tile URL template with {z}, {x} and {y}, or "gsi" for
    # the standard 地理院タイル of the Geospatial Information Authority of Japan. Empty: no map,
    # the sites are listed (what an installation without Internet access shows anyway).
    map_tiles: str = ""
    map_attribution: str = ""

    @property
    def grants_path(self) -> Path:
        """The research grants and their download log, beside the keys they are given to."""
        return self.keys_path.with_name("research_grants.sqlite3")

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        tiles = self.map_tiles.strip()
        template = tiles.startswith(("https://", "http://")) and all(
            part in tiles for part in ("{z}", "{x}", "{y}")
        )
        if tiles not in ("", "gsi") and not template:
            raise ApiSettingsError(
                "SHINSHU_API_MAP_TILES must be empty, 'gsi', or an http(s) URL template "
                "with {z}, {x} and {y}"
            )
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


class _Variables(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping (tests pass their own)."""

    def __init__(self, names: type[BaseSettings], environ: Mapping[str, str]) -> None:
        """Look `names`' fields up in `environ`, whatever the case of the variable names."""
        self._environ = environ
        super().__init__(names, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        """The given mapping instead of `os.environ`, with names in lower case."""
        return {key.lower(): value for key, value in self._environ.items()}


@functools.cache
def _names(model: type, prefix: str) -> type[BaseSettings]:
    """A BaseSettings class naming `model`'s fields (as text: `model` gives the types)."""
    # ApiSettings holds the platform's Settings in `store`: those are read on their own.
    fields: dict[str, Any] = {
        f.name: (str | None, None)
        for f in dataclasses.fields(model)
        if model is Settings or f.name != "store"
    }
    return create_model(  # type: ignore[no-any-return]
        f"_{model.__name__}Variables",
        __base__=BaseSettings,
        __cls_kwargs__={"env_prefix": prefix, "extra": "ignore"},
        **fields,
    )


def _variables(model: type, prefix: str, env: Mapping[str, str] | None) -> dict[str, Any]:
    """The fields of `model` set as `prefix` + NAME in `env` (default: the process's)."""
    return _Variables(_names(model, prefix), os.environ if env is None else env)()


def _read_file(config: Path) -> dict[str, Any]:
    """The settings in a TOML file; an unknown name is refused (it is most likely a typo)."""
    try:
        document = tomllib.loads(config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {config}: {exc}") from exc
    unknown = sorted(set(document) - {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        raise SettingsError(f"unknown settings in {config}: {', '.join(unknown)}")
    return document


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, the TOML file, the environment and flag overrides (later ones win)."""
    values = _read_file(config) if config is not None else {}
    values.update(_variables(Settings, ENV_PREFIX, env))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings(**values)


GSI_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'


def map_tiles(settings: ApiSettings) -> tuple[str, str] | None:
    """The overview map's tile URL template and attribution (HTML), or None for no map."""
    tiles = settings.map_tiles.strip()
    if not tiles:
        return None
    if tiles == "gsi":
        return GSI_TILES, settings.map_attribution or GSI_ATTRIBUTION
    return tiles, settings.map_attribution


def load_api_settings(store: Settings, env: Mapping[str, str] | None = None) -> ApiSettings:
    """Read `SHINSHU_API_*` on top of the platform settings; keys live under the data dir."""
    values = _variables(ApiSettings, API_PREFIX, env)
    keys = values.pop("keys_path", None)
    keys_path = Path(keys).expanduser() if keys else store.data_path / "api_keys.sqlite3"
    return ApiSettings(store=store, keys_path=keys_path, **values)

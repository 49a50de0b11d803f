"""The application's context: the store, its read models and the domain services, built once.

Every request shares these objects (their caches, the order of acknowledgements); the routes
reach them through the dependency aliases of `dashboard.deps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import ApiSettings, Settings
from dashboard.broker import BrokerProbe
from dashboard.device_accounts import DeviceAccounts
from dashboard.downlink import ConfigPublisher
from dashboard.grants import GrantStore
from dashboard.keys import KeyStore
from dashboard.metrics import ApiMetrics
from dashboard.ratelimit import RateLimiter
from edge.mqtt import MqttEndpoint
from models.forest.service import ForestService
from models.harvest.service import ForecastService
from models.landslide.board import LandslideBoard
from models.sites.service import RegistryService
from models.stock.quantity_service import QuantityService
from models.stock.service import StockService
from models.store_weather import read_daily_weather
from notify.outbox import Outbox
from notify.subscriptions import Subscriptions
from storage import open_store
from storage.alerts import AlertStore
from storage.protocol import ReadingStore
from storage.readings import Reader
from storage.series import AssetReader


@dataclass(frozen=True, slots=True)
class Notifications:
    """The notifier's subscriptions and outbox (its SQLite file), the server's Web Push key
    (None: no pushes), and the store that holds threshold rules."""

    subscriptions: Subscriptions
    outbox: Outbox
    push_key: str | None
    store: ReadingStore


def _notifications(settings: Settings, store: ReadingStore) -> Notifications:
    push_key = None
    if settings.notify_vapid_contact:
        from notify.push import application_server_key, load_vapid

        push_key = application_server_key(load_vapid(settings.vapid_path))
    path = settings.notify_path
    return Notifications(Subscriptions(path), Outbox(path), push_key, store)


@dataclass(frozen=True, slots=True)
class AppContext:
    """What every request shares: settings, the store and its read models, keys, limits, metrics."""

    settings: ApiSettings
    reader: Reader
    keys: KeyStore
    # Researcher accounts' grants from tenants, and the log of what they downloaded.
    grants: GrantStore
    limiter: RateLimiter
    metrics: ApiMetrics
    broker: BrokerProbe
    # One of each per application: their caches and the order of acknowledgements are shared.
    alerts: AlertStore
    forecasts: ForecastService
    assets: AssetReader
    stock: StockService
    forest: ForestService
    quantity: QuantityService
    # Device registration (admins) and configuration down to devices (operators).
    devices: DeviceAccounts
    downlink: ConfigPublisher
    notifications: Notifications
    # The asset registry and work records: every change through it, validated (operators).
    registry: RegistryService
    # Landslide levels of the tenants' sites, and the list shared across tenants.
    landslide: LandslideBoard
    # Wrong keys by client address; derived from the settings, so built here rather than passed.
    auth_failures: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        """Build what derives from the settings alone."""
        failures = RateLimiter(
            self.settings.auth_failure_rate_per_s,
            self.settings.auth_failure_burst,
            reason="too many wrong API keys from this address",
        )
        object.__setattr__(self, "auth_failures", failures)


def build_context(settings: ApiSettings) -> AppContext:
    """The shared objects of one application, built from settings."""
    store_settings = settings.store
    # Many request threads read at once: a connection each.
    store = open_store(store_settings, timeout=60.0, connections=64)

    def api_endpoint() -> MqttEndpoint:
        """The broker as the API's own account (its secret read when it is needed)."""
        return store_settings.mqtt_endpoint(store_settings.api_client_id)

    ttl_s = settings.aggregate_ttl_s
    assets = AssetReader(store, ttl_s)
    alerts = AlertStore(store)
    return AppContext(
        settings=settings,
        reader=Reader(
            store,
            settings.catalogue_ttl_s,
            settings.aggregate_ttl_s,
            rollups=store_settings.rollup_reads,
        ),
        keys=KeyStore(settings.keys_path),
        grants=GrantStore(settings.grants_path),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        metrics=ApiMetrics(),
        broker=BrokerProbe(api_endpoint),
        alerts=alerts,
        forecasts=ForecastService(store, store_settings.data_path, read_daily_weather),
        assets=assets,
        stock=StockService(assets, ttl_s),
        forest=ForestService(assets, ttl_s),
        quantity=QuantityService(store, assets, alerts),
        devices=DeviceAccounts(store_settings),
        downlink=ConfigPublisher(api_endpoint),
        notifications=_notifications(store_settings, store),
        registry=RegistryService(store),
        landslide=LandslideBoard(store, ttl_s=max(settings.aggregate_ttl_s, 60.0)),
    )

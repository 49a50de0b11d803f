"""The device registry as the API uses it: opened on first use, with the broker control account."""

from __future__ import annotations

import threading

from core.errors import SettingsError
from core.settings import Settings
from dashboard.errors import UnavailableError
from identity.dynsec import DynsecControl
from identity.registry import Registry
from identity.service import AccountService


class DeviceAccounts:
    """Gives the registry and broker control; 503 while the control secret is not there."""

    def __init__(self, settings: Settings) -> None:
        """Use the registry and control account of `settings` when first asked."""
        self._settings = settings
        self._lock = threading.Lock()
        self._service: AccountService | None = None

    def __call__(self) -> AccountService:
        """The account service; UnavailableError if the broker control account is missing."""
        with self._lock:
            if self._service is None:
                try:
                    control = DynsecControl(self._settings.control_endpoint())
                except SettingsError as exc:
                    raise UnavailableError(f"device registration is not set up: {exc}") from exc
                self._service = AccountService(Registry(self._settings.registry_path), control)
            return self._service

    def close(self) -> None:
        """Close the registry, if it was opened."""
        with self._lock:
            if self._service is not None:
                self._service.registry.close()

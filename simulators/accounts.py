"""Broker accounts for simulated devices: issued by the platform's registry like real ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.settings import Settings
from identity.dynsec import DynsecControl
from identity.registry import Registry
from identity.service import AccountService

DeviceKey = tuple[str, str, str]
# Fresh secrets for (tenant, site, device) triples: registered if new, rotated if known.
SecretIssuer = Callable[[Sequence[DeviceKey]], dict[DeviceKey, str]]


def issuer_of(service: AccountService, actor: str = "simulator") -> SecretIssuer:
    """Issue simulated devices' secrets through `service` (registry and broker)."""

    def issue(devices: Sequence[DeviceKey]) -> dict[DeviceKey, str]:
        """One secret per device."""
        issued = service.issue_devices(list(devices), actor=actor)
        return {key: item.secret for key, item in issued.items()}

    return issue


def issuer_from_settings(settings: Settings) -> SecretIssuer:
    """The registry and broker of `settings` (the control account's secret is needed)."""
    control = DynsecControl(settings.control_endpoint())
    return issuer_of(AccountService(Registry(settings.registry_path), control))

"""Device registration (admins) and remote configuration (operators)."""

from __future__ import annotations

from fastapi import APIRouter, status

from core.errors import NotFoundError
from core.time import from_ms
from dashboard.deps import API_PREFIX, Context, DevicesAdmin, DevicesOperator, TenantPath, valid_id
from dashboard.keys import ApiKey
from dashboard.schemas import (
    AUTHENTICATED,
    DeviceAccountOut,
    DeviceConfigIn,
    DeviceConfigOut,
    DeviceCredentials,
    DeviceEvent,
    DeviceRegister,
    error_responses,
)
from identity.accounts import Account, device_username
from identity.service import AccountService, Issued

router = APIRouter(
    prefix=API_PREFIX,
    tags=["device registry"],
    responses=error_responses(*AUTHENTICATED, 409),
)


def _username(key: ApiKey, site: str, device: str) -> str:
    """The account name of a device of the key's tenant (404 for ids nothing can have)."""
    return device_username(key.tenant, valid_id(site, "site"), valid_id(device, "device"))


def _out(service: AccountService, account: Account) -> DeviceAccountOut:
    assert account.tenant and account.site and account.device
    history = [
        DeviceEvent(at=from_ms(e.at_ms), actor=e.actor, action=e.action)
        for e in service.registry.events(account.username)
    ]
    return DeviceAccountOut(
        tenant=account.tenant,
        site=account.site,
        device=account.device,
        name=account.name,
        username=account.username,
        client_id=account.client_id,
        active=account.active,
        created=from_ms(account.created_ms),
        rotated=None if account.rotated_ms is None else from_ms(account.rotated_ms),
        revoked=None if account.revoked_ms is None else from_ms(account.revoked_ms),
        history=history,
    )


def _credentials(service: AccountService, issued: Issued) -> DeviceCredentials:
    return DeviceCredentials(**_out(service, issued.account).model_dump(), secret=issued.secret)


@router.post(
    "/tenants/{tenant}/devices",
    response_model=DeviceCredentials,
    status_code=status.HTTP_201_CREATED,
    summary="Register a device",
)
def register_device(
    tenant: TenantPath, body: DeviceRegister, key: DevicesAdmin, context: Context
) -> DeviceCredentials:
    """A new device of the tenant with its own broker account; the secret is shown once."""
    service = context.devices()
    issued = service.add_device(
        key.tenant, body.site, body.device, name=body.name, actor=f"key:{key.id}"
    )
    return _credentials(service, issued)


@router.get(
    "/tenants/{tenant}/devices/accounts",
    response_model=list[DeviceAccountOut],
    summary="List registered devices",
)
def list_device_accounts(
    tenant: TenantPath, key: DevicesAdmin, context: Context
) -> list[DeviceAccountOut]:
    """Every registered device of the tenant, revoked ones included, without secrets."""
    service = context.devices()
    return [_out(service, account) for account in service.devices(key.tenant)]


@router.get(
    "/tenants/{tenant}/devices/{site}/{device}/account",
    response_model=DeviceAccountOut,
    summary="One registered device and its history",
)
def get_device_account(
    tenant: TenantPath, site: str, device: str, key: DevicesAdmin, context: Context
) -> DeviceAccountOut:
    """The registration of one device with every change: who and when."""
    service = context.devices()
    account = service.device(key.tenant, valid_id(site, "site"), valid_id(device, "device"))
    return _out(service, account)


@router.post(
    "/tenants/{tenant}/devices/{site}/{device}/rotate",
    response_model=DeviceCredentials,
    summary="Give a device a new secret",
)
def rotate_device(
    tenant: TenantPath, site: str, device: str, key: DevicesAdmin, context: Context
) -> DeviceCredentials:
    """A new secret, shown once; the old one is refused and its session closed at once."""
    service = context.devices()
    issued = service.rotate(_username(key, site, device), actor=f"key:{key.id}")
    return _credentials(service, issued)


@router.delete(
    "/tenants/{tenant}/devices/{site}/{device}",
    response_model=DeviceAccountOut,
    summary="Revoke a device",
)
def revoke_device(
    tenant: TenantPath, site: str, device: str, key: DevicesAdmin, context: Context
) -> DeviceAccountOut:
    """Revoke a device: the broker closes its session and refuses it from now on."""
    service = context.devices()
    account = service.revoke(_username(key, site, device), actor=f"key:{key.id}")
    return _out(service, account)


@router.put(
    "/tenants/{tenant}/devices/{site}/{device}/config",
    response_model=DeviceConfigOut,
    summary="Configure a device",
)
def put_device_config(
    tenant: TenantPath,
    site: str,
    device: str,
    *,
    body: DeviceConfigIn,
    key: DevicesOperator,
    context: Context,
) -> DeviceConfigOut:
    """Validate a configuration and retain it on the device's config topic for the agent."""
    site, device = valid_id(site, "site"), valid_id(device, "device")
    account = context.devices().device(key.tenant, site, device)
    if not account.active:
        raise NotFoundError(f"device {device!r} at site {site!r} is revoked")
    published = context.downlink.publish(key.tenant, site, device, body.model_dump())
    sensors = {
        name: {
            k: v for k, v in (("interval_s", o.interval_s), ("enabled", o.enabled)) if v is not None
        }
        for name, o in published.config.sensors.items()
    }
    return DeviceConfigOut(topic=published.topic, rev=published.config.rev, sensors=sensors)

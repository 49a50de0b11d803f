"""`shinshu devices …` and `shinshu broker …`: the registry and the broker from the command line."""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SettingsError
from core.time import from_ms
from edge.credentials import write_secret_file
from identity.accounts import Account, AccountError, ServiceRole, device_username
from identity.auth_http import AuthServer
from identity.broker_config import DEBIAN, render
from identity.dynsec import BrokerControlError, DynsecControl
from identity.rabbit_auth import RabbitAuth
from identity.rabbit_config import DEBIAN_RABBIT
from identity.rabbit_config import render as rabbit_render
from identity.registry import Registry, RegistryError
from identity.service import AccountService, BrokerNotUpdatedError, Issued, bootstrap

if TYPE_CHECKING:
    from core.settings import Settings

_REFUSED = (AccountError, RegistryError, BrokerNotUpdatedError, BrokerControlError, SettingsError)


def _fail(command: str, exc: Exception) -> int:
    """Say why on stderr; 2 for a setting that is missing or wrong, 1 for anything else."""
    print(f"shinshu {command}: {exc}", file=sys.stderr)
    return 2 if isinstance(exc, SettingsError) else 1


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return from_ms(ms).isoformat(timespec="seconds")


def _describe(account: Account) -> str:
    state = "active" if account.active else f"revoked {_when(account.revoked_ms)}"
    return (
        f"{account.tenant}\t{account.site}\t{account.device}\t{state}\t"
        f"{_when(account.created_ms)}\t{account.username}\t{account.name}"
    )


def _service(settings: Settings, *, broker: bool = True) -> AccountService:
    registry = Registry(settings.registry_path)
    control = DynsecControl(settings.control_endpoint()) if broker else None
    return AccountService(registry, control)


def _hand_out(issued: Issued, secret_file: Path | None) -> None:
    """Print the account and its secret once, or write the secret to a file (mode 0600)."""
    account = issued.account
    print(f"username and client id: {account.username}")
    if secret_file is not None:
        write_secret_file(secret_file, issued.secret)
        print(f"secret written to {secret_file} (mode 0600); it is not shown again")
    else:
        print("secret (shown once; put it in the agent's mqtt_password_file):")
        print(issued.secret)


def _devices(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `shinshu devices` action."""
    action = args.devices_command
    try:
        if action == "list":
            service = _service(settings, broker=False)
            print("tenant\tsite\tdevice\tstate\tcreated\tusername\tname")
            for account in service.registry.list(tenant=args.dev_tenant):
                if account.device is not None:
                    print(_describe(account))
            return 0
        if action == "sync":
            report = _service(settings).sync()
            removed = ", ".join(report.removed + report.unknown_removed) or "-"
            print(f"removed from the broker: {removed}")
            if report.missing:
                missing = ", ".join(report.missing)
                print(f"registered but unknown to the broker (rotate them): {missing}")
            return 0
        username = device_username(args.dev_tenant, args.dev_site, args.dev_device)
        if action == "show":
            service = _service(settings, broker=False)
            account = service.device(args.dev_tenant, args.dev_site, args.dev_device)
            print(_describe(account))
            for event in service.registry.events(username):
                print(f"  {_when(event.at_ms)}\t{event.action}\t{event.actor}\t{event.detail}")
            return 0
        service = _service(settings)
        if action == "add":
            issued = service.add_device(
                args.dev_tenant, args.dev_site, args.dev_device, name=args.name, actor=_actor()
            )
            _hand_out(issued, args.secret_file)
        elif action == "rotate":
            _hand_out(service.rotate(username, actor=_actor()), args.secret_file)
        else:
            service.revoke(username, actor=_actor())
            print(f"revoked {username}; the broker closed its session and refuses it")
    except _REFUSED as exc:
        return _fail("devices", exc)
    return 0


def _broker(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `shinshu broker` action."""
    action = args.broker_command
    try:
        if action == "config":
            sys.stdout.write(render(DEBIAN))
            return 0
        if action == "certs":
            return _certs(args)
        if action == "init":
            return _init(settings, args)
        if action == "rabbit-config":
            sys.stdout.write(rabbit_render(DEBIAN_RABBIT))
            return 0
        if action == "auth-http":
            return _auth_http(settings, args)
        service = _service(settings)
        issued = service.add_service(ServiceRole(args.role), args.username, actor=_actor())
        path = settings.secrets_path / f"{args.username}.secret"
        write_secret_file(path, issued.secret)
        print(f"service account {args.username} ({args.role}); its secret is in {path}")
    except (*_REFUSED, OSError) as exc:
        return _fail("broker", exc)
    return 0


def _auth_http(settings: Settings, args: argparse.Namespace) -> int:
    """Answer RabbitMQ's HTTP authentication backend from the registry until stopped."""
    registry = Registry(settings.registry_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = AuthServer(RabbitAuth(registry), args.host, args.port)
    print(f"RabbitMQ の認証を {server.url} で応答します / answering RabbitMQ at {server.url}")
    try:
        server.serve(stop)
    except KeyboardInterrupt:
        server.stop()
    finally:
        registry.close()
    return 0


def _init(settings: Settings, args: argparse.Namespace) -> int:
    target: Path = args.accounts_file
    if target.exists() and not args.force:
        print(
            f"shinshu broker: {target} exists (the broker keeps its accounts there); "
            "--force writes it anew from the registry",
            file=sys.stderr,
        )
        return 1
    extra = [_service_spec(spec) for spec in args.service or ()]
    registry = Registry(settings.registry_path)
    try:
        document: dict[str, Any] = bootstrap(
            registry, settings.secrets_path, services=extra, actor=_actor()
        )
    finally:
        registry.close()
    write_secret_file(target, json.dumps(document, indent=1))
    print(f"wrote {len(document['clients'])} accounts to {target} (mode 0600)")  # type: ignore[arg-type]
    print(f"service secrets are in {settings.secrets_path}/<account>.secret (mode 0600)")
    print("let the broker's user read the file (e.g. chown mosquitto), then start Mosquitto")
    return 0


def _service_spec(spec: str) -> tuple[ServiceRole, str]:
    role, _, username = spec.partition(":")
    try:
        return ServiceRole(role), username or f"shinshu-{role}"
    except ValueError as exc:
        raise AccountError(
            f"--service {spec!r}: ROLE:NAME with ROLE one of ingest, alerts, api, monitor"
        ) from exc


def _certs(args: argparse.Namespace) -> int:
    # cryptography is a server dependency: a Pi running the agent never loads it.
    from identity.certs import CertPair, issue, make_broker_cert, make_ca

    folder: Path = args.dir
    ca = CertPair(folder / "ca.crt", folder / "ca.key")
    if not ca.cert.exists():
        ca = make_ca(folder)
        print(f"made a private CA: {ca.cert} (give this file to every device and service)")
    broker = make_broker_cert(ca, folder, tuple(args.host))
    print(f"broker certificate for {', '.join(args.host)}: {broker.cert}, key {broker.key}")
    for name in args.client or ():
        pair = issue(ca, folder, f"client-{name}", name, server=False)
        print(f"client certificate {name}: {pair.cert}, key {pair.key}")
    print(f"keep {ca.key} offline: it can sign certificates the broker and devices trust")
    return 0


def _device_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", dest="dev_tenant", required=True)
    parser.add_argument("--site", dest="dev_site", required=True)
    parser.add_argument("--device", dest="dev_device", required=True)


def add_devices_command(sub: Any) -> None:
    """Register `shinshu devices add|list|show|revoke|rotate|sync`."""
    devices = sub.add_parser(
        "devices",
        help="the device registry: broker accounts of devices (secret shown once, stored hashed)",
    )
    actions = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a device and print its broker secret once")
    _device_flags(add)
    add.add_argument("--name", default="", help="what or where the device is")
    add.add_argument("--secret-file", type=Path, help="write the secret here (0600) instead")
    listing = actions.add_parser("list", help="registered devices")
    listing.add_argument("--tenant", dest="dev_tenant")
    show = actions.add_parser("show", help="one device and its history")
    _device_flags(show)
    revoke = actions.add_parser("revoke", help="revoke: the broker disconnects and refuses it")
    _device_flags(revoke)
    rotate = actions.add_parser("rotate", help="a new secret; the old one stops working at once")
    _device_flags(rotate)
    rotate.add_argument("--secret-file", type=Path, help="write the secret here (0600)")
    actions.add_parser("sync", help="bring the broker in line with the registry")
    devices.set_defaults(handler=_devices)


def add_broker_command(sub: Any) -> None:
    """Register `shinshu broker init|config|rabbit-config|auth-http|certs|add-service`."""
    broker = sub.add_parser("broker", help="set up Mosquitto: accounts, configuration, TLS")
    actions = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init", help="create the service accounts and write the broker's accounts file"
    )
    init.add_argument(
        "--accounts-file",
        type=Path,
        default=DEBIAN.accounts_file,
        help=f"the dynamic-security file (default {DEBIAN.accounts_file})",
    )
    init.add_argument("--force", action="store_true", help="rewrite it from the registry")
    init.add_argument(
        "--service", action="append", help="another service account, ROLE:NAME (repeat)"
    )
    actions.add_parser("config", help="print the broker configuration (mosquitto.conf)")
    actions.add_parser(
        "rabbit-config", help="print a RabbitMQ cluster node's rabbitmq.conf (docs/cluster.md)"
    )
    auth = actions.add_parser(
        "auth-http", help="answer RabbitMQ's HTTP authentication backend from the registry"
    )
    auth.add_argument("--host", default="127.0.0.1", help="address to listen on")
    auth.add_argument("--port", type=int, default=8089, help="port to listen on (default 8089)")
    certs = actions.add_parser("certs", help="a private CA and the broker's TLS certificate")
    certs.add_argument("--dir", type=Path, required=True, help="where to put the PEM files")
    certs.add_argument(
        "--host", action="append", required=True, help="a name or address of the broker (repeat)"
    )
    certs.add_argument("--client", action="append", help="also a client certificate (repeat)")
    service = actions.add_parser(
        "add-service", help="another service account, e.g. a second ingest worker"
    )
    service.add_argument("--role", required=True, choices=["ingest", "alerts", "api", "monitor"])
    service.add_argument("--username", required=True, help="also its client id")
    broker.set_defaults(handler=_broker)

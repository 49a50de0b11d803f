"""`shinshu serve` and `shinshu keys create|list|revoke`, as argparse subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SettingsError
from core.logs import setup_logging
from core.time import from_ms
from dashboard.keys import ApiKey, KeyStore, KeyStoreError, Role

if TYPE_CHECKING:
    from core.settings import Settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """Run the API with uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    from core.settings import load_api_settings
    from dashboard.app import create_app

    app = create_app(load_api_settings(settings))
    # uvicorn's own access log would print query strings; ours does not.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level=settings.log_level.lower(),
    )
    return 0


def _describe(key: ApiKey) -> str:
    created = from_ms(key.created_ms).isoformat()
    state = "active" if key.active else "revoked"
    sites = ",".join(key.sites) or "-"
    return f"{key.id}\t{key.tenant}\t{key.role.value}\t{state}\t{sites}\t{created}\t{key.name}"


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    """Create, list or revoke API keys in the key store under the data folder."""
    from core.settings import load_api_settings

    store = KeyStore(load_api_settings(settings).keys_path)
    try:
        if args.keys_command == "create":
            key, token = store.create(
                args.key_tenant, Role(args.role), name=args.name, sites=args.key_sites or ()
            )
            if key.role is Role.RESEARCHER and not key.sites:
                print(
                    f"researcher account {key.tenant}: it reads only what tenants' admins grant it"
                    f" / 研究者アカウント {key.tenant}: 各テナントの管理者が許可したデータのみ"
                )
            print(f"created key {key.id} ({key.role.value} of {key.tenant}); token, shown once:")
            print(token)
        elif args.keys_command == "list":
            print("id\ttenant\trole\tstate\tsites\tcreated\tname")
            for key in store.list(args.key_tenant):
                print(_describe(key))
        else:
            key = store.revoke(args.key_id)
            print(f"revoked {key.id}")
    except KeyStoreError as exc:
        print(f"shinshu keys: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def add_serve_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `serve` to the `shinshu` subcommands."""
    serve = sub.add_parser("serve", help="run the web dashboard and API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.set_defaults(handler=_serve)


def add_keys_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `keys create|list|revoke` to the `shinshu` subcommands."""
    keys = sub.add_parser("keys", help="API keys (stored hashed under the data folder)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    # The dests are the key's own, not `tenant` and `site`: those name platform settings.
    create = keys_sub.add_parser("create", help="create a key and print its token once")
    create.add_argument("--tenant", dest="key_tenant", required=True, metavar="TENANT")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument(
        "--site",
        dest="key_sites",
        action="append",
        metavar="SITE",
        help="researcher keys: a site the tenant shares (repeat); none: a researcher account "
        "(TENANT names the account) that reads only through tenants' grants",
    )
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant", dest="key_tenant", metavar="TENANT", help="only its keys")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    keys.set_defaults(handler=_keys)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `serve` or `keys` on their own: `python -m dashboard.cli serve --port 8000`."""
    parser = argparse.ArgumentParser(prog="dashboard")
    parser.add_argument("--config", type=Path, help="TOML file with settings")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(sub)
    add_keys_command(sub)
    args = parser.parse_args(argv)
    from core.settings import ApiSettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format, service="api")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.handler(settings, args))
    except ApiSettingsError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

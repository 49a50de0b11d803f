"""`shinshu notify run|subscribe|list|remove|outbox`: the notifier and its subscriptions.

Light to import: the command line builds its parser from it on a Pi too; the service's modules
load when it runs.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings


def _run(settings: Settings) -> int:
    from core.signals import install_stop_handlers
    from notify.service import run_notifier

    stop = threading.Event()
    install_stop_handlers(stop)
    run_notifier(settings, stop)
    return 0


def _subscribe(settings: Settings, args: argparse.Namespace) -> int:
    from notify.subscriptions import ChannelKind, QuietHours, Severity, Subscription, Subscriptions

    if args.channel == "apprise":
        if args.target or not args.target_file:
            print(
                "an apprise URL holds the service's token: give it in a file with "
                "--target-file, not on the command line",
                file=sys.stderr,
            )
            return 2
        target = Path(args.target_file).read_text().strip()
    elif args.target:
        target = args.target
    else:
        print("--target is needed (a webhook URL or an e-mail address)", file=sys.stderr)
        return 2
    quiet = None
    if args.quiet:
        start, _, end = args.quiet.partition("-")
        quiet = QuietHours(start, end)
    sub = Subscription(
        id="",
        tenant=args.notify_tenant,
        name=args.name,
        channel=ChannelKind(args.channel),
        target=target,
        lang=args.lang,
        sites=tuple(args.notify_sites or ()),
        kinds=tuple(args.kinds or ()),
        min_severity=Severity[args.min_severity.upper()],
        quiet=quiet,
        escalate_after_min=args.escalate_after,
        escalate_to=args.escalate_to,
    )
    store = Subscriptions(settings.notify_path)
    try:
        stored = store.add(sub, now_ms=int(time.time() * 1000))
    finally:
        store.close()
    print(f"subscribed {stored.id} ({stored.channel.value} → {stored.shown_target})")
    if stored.channel is ChannelKind.WEBHOOK:
        print("signing secret, shown once (verify X-Shinshu-Signature with it):")
        print(stored.secret)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from notify.subscriptions import Subscriptions

    store = Subscriptions(settings.notify_path)
    try:
        subs = store.of_tenant(args.notify_tenant) if args.notify_tenant else store.all()
    finally:
        store.close()
    print("id\ttenant\tchannel\ttarget\tlang\tmin_severity\tsites\tkinds\tname")
    for s in subs:
        print(
            f"{s.id}\t{s.tenant}\t{s.channel.value}\t{s.shown_target}\t{s.lang}\t"
            f"{s.min_severity.name.lower()}\t{','.join(s.sites) or '*'}\t"
            f"{','.join(s.kinds) or '*'}\t{s.name}"
        )
    return 0


def _remove(settings: Settings, args: argparse.Namespace) -> int:
    from notify.subscriptions import Subscriptions

    store = Subscriptions(settings.notify_path)
    try:
        store.remove(args.notify_tenant, args.subscription)
    finally:
        store.close()
    print(f"removed {args.subscription}")
    return 0


def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from notify.outbox import Outbox, State

    outbox = Outbox(settings.notify_path)
    try:
        states = [State(s) for s in args.state] if args.state else []
        items = outbox.listing(tenant=args.notify_tenant, states=states, limit=args.limit)
    finally:
        outbox.close()
    print("key\tchannel\tdestination\tstate\tattempts\tlast_error")
    for i in items:
        print(
            f"{i.key}\t{i.channel}\t{i.destination}\t{i.state.value}\t{i.attempts}\t{i.last_error}"
        )
    return 0


def _notify(settings: Settings, args: argparse.Namespace) -> int:
    from core.errors import ShinshuError

    actions = {
        "subscribe": _subscribe,
        "list": _list,
        "remove": _remove,
        "outbox": _outbox,
    }
    if args.notify_command == "run":
        return _run(settings)
    try:
        return actions[args.notify_command](settings, args)
    except ShinshuError as exc:
        print(f"shinshu notify: {exc}", file=sys.stderr)
        return 1


def add_notify_command(sub: Any) -> None:
    """Register `shinshu notify` on the top-level subparsers."""
    notify = sub.add_parser(
        "notify",
        help="deliver alerts to people: webhooks, e-mail; subscriptions and the outbox",
        description="`run` queues a notification per new alert and subscription in a durable "
        "outbox and delivers it; docs/notifications.md describes channels and signatures.",
    )
    actions = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    actions.add_parser("run", help="run the notifier until SIGTERM/SIGINT")
    subscribe = actions.add_parser("subscribe", help="add a subscription")
    subscribe.add_argument("--tenant", dest="notify_tenant", required=True, metavar="TENANT")
    subscribe.add_argument(
        "--channel", required=True, choices=["webhook", "email", "push", "apprise"]
    )
    subscribe.add_argument("--target", help="webhook URL or e-mail address")
    subscribe.add_argument(
        "--target-file",
        help="apprise: a file holding the service's URL (e.g. slack://…, msteams://…, "
        "line://…), which carries its token",
    )
    subscribe.add_argument("--name", default="", help="who or what it is for")
    subscribe.add_argument("--lang", default="ja", choices=["ja", "en"])
    subscribe.add_argument("--site", dest="notify_sites", action="append", metavar="SITE")
    subscribe.add_argument("--kind", dest="kinds", action="append", metavar="KIND")
    subscribe.add_argument(
        "--min-severity", default="warning", choices=["info", "warning", "critical"]
    )
    subscribe.add_argument("--quiet", metavar="HH:MM-HH:MM", help="quiet hours, Japan time")
    subscribe.add_argument("--escalate-after", type=int, metavar="MIN")
    subscribe.add_argument("--escalate-to", metavar="SUBSCRIPTION")
    listing = actions.add_parser("list", help="list subscriptions (never their secrets)")
    listing.add_argument("--tenant", dest="notify_tenant", metavar="TENANT")
    remove = actions.add_parser("remove", help="remove a subscription")
    remove.add_argument("--tenant", dest="notify_tenant", required=True, metavar="TENANT")
    remove.add_argument("subscription")
    outbox = actions.add_parser("outbox", help="list queued, delivered and dead notifications")
    outbox.add_argument("--tenant", dest="notify_tenant", metavar="TENANT")
    outbox.add_argument(
        "--state", action="append", choices=["pending", "delivered", "dead"], metavar="STATE"
    )
    outbox.add_argument("--limit", type=int, default=50)
    notify.set_defaults(handler=_notify)

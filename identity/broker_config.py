"""The Mosquitto configuration the platform ships, rendered for a server or a private instance.

`deploy/mosquitto/mosquitto.conf` is `render(DEBIAN)`; the demo and the tests run `render()`
with their own ports and folders, so what is tested is what is shipped (a test compares them).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

PLUGIN_NAME = "mosquitto_dynamic_security.so"
# Debian's and Raspberry Pi OS's place for the plugin (aarch64: /usr/lib/aarch64-linux-gnu/).
DEBIAN_PLUGIN = Path("/usr/lib/x86_64-linux-gnu") / PLUGIN_NAME


def find_plugin() -> Path:
    """The dynamic-security plugin of the installed Mosquitto."""
    for pattern in (
        f"/usr/lib/*/{PLUGIN_NAME}",
        f"/usr/lib/{PLUGIN_NAME}",
        f"/usr/lib*/{PLUGIN_NAME}",
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    raise FileNotFoundError(f"{PLUGIN_NAME} not found: install Debian's `mosquitto` package")


@dataclass(frozen=True, slots=True)
class BrokerLayout:
    """Ports, files and folders of one broker."""

    plain_host: str
    plain_port: int
    tls_host: str
    tls_port: int
    plugin: Path
    accounts_file: Path
    persistence_dir: Path
    ca_file: Path
    cert_file: Path
    key_file: Path
    log_dest: str
    # A broker started as root drops to this user (it must own the folders above).
    user: str = "mosquitto"
    pid_file: Path | None = None


DEBIAN = BrokerLayout(
    plain_host="127.0.0.1",
    plain_port=1883,
    tls_host="0.0.0.0",
    tls_port=8883,
    plugin=DEBIAN_PLUGIN,
    accounts_file=Path("/var/lib/mosquitto/dynamic-security.json"),
    persistence_dir=Path("/var/lib/mosquitto"),
    ca_file=Path("/etc/mosquitto/certs/ca.crt"),
    cert_file=Path("/etc/mosquitto/certs/broker.crt"),
    key_file=Path("/etc/mosquitto/certs/broker.key"),
    log_dest="file /var/log/mosquitto/mosquitto.log",
    pid_file=Path("/run/mosquitto/mosquitto.pid"),
)


def render(layout: BrokerLayout) -> str:
    """The whole mosquitto.conf for `layout`."""
    pid = f"pid_file {layout.pid_file}\n" if layout.pid_file is not None else ""
    return f"""\
# Shinshu IoT platform: Mosquitto broker (replaces /etc/mosquitto/mosquitto.conf).
# Made by `shinshu broker config`; the platform's tests run this same configuration.
{pid}user {layout.user}

# Every client logs in with an account from the platform's registry: one per device, one per
# service. The dynamic-security plugin holds the accounts and their rules (a device may
# publish only its own .../up and .../status and read only its own .../config and .../ack;
# a client id belongs to its account). `shinshu broker init` writes the accounts file;
# `shinshu devices add|rotate|revoke` changes it live over $CONTROL/dynamic-security/v1.
per_listener_settings false
allow_anonymous false
plugin {layout.plugin}
plugin_opt_config_file {layout.accounts_file}

# The delivery guarantee depends on these: sessions and their queued QoS 1 messages are kept
# on disk across a restart (saved on a clean stop and every autosave_interval seconds; the
# devices re-send what ingest has not confirmed after a crash), and a stopped ingest
# worker's backlog is kept, up to max_queued_messages per session (about 1 kB of memory
# each: 5 million is an hour of a whole prefecture's readings).
persistence true
persistence_location {layout.persistence_dir}/
autosave_interval 30
max_queued_messages 5000000
max_queued_bytes 0
max_inflight_messages 1000

# Plain MQTT only on the loopback interface, for the platform's services on this host.
listener {layout.plain_port} {layout.plain_host}

# MQTT over TLS for devices and remote services (`shinshu broker certs` makes a private CA
# and this broker's certificate).
listener {layout.tls_port} {layout.tls_host}
cafile {layout.ca_file}
certfile {layout.cert_file}
keyfile {layout.key_file}
tls_version tlsv1.2

log_dest {layout.log_dest}
log_type error
log_type warning
log_type notice
"""

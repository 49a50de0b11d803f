"""deploy/install.sh in a clean tree: the broker, InfluxDB (auth on) and every service it set up
start from the files it wrote and answer /readyz; its admin key works; no secret leaks."""

from __future__ import annotations

import getpass
import os
import re
import signal
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import wait_until

from shinshu.localservices import free_port, require_binary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "install.sh"
TENANT = "kawakami"
PORTS = (
    "mqtt",
    "mqtt-tls",
    "influx",
    "influx-rpc",
    "serve",
    "ingest-metrics",
    "alerts-metrics",
    "notify-metrics",
    "https",
)
TOKEN = re.compile(r"^shk_\S+$", re.MULTILINE)


@dataclass
class Installed:
    """A tree the script installed into, its ports and what it printed."""

    root: Path
    ports: dict[str, int]
    output: str

    @property
    def toml(self) -> Path:
        """The settings file the script wrote."""
        return self.root / "etc/shinshu/shinshu.toml"


def install(root: Path, ports: dict[str, int]) -> str:
    """Run the script with the test options (no apt, no user, no systemctl); its output."""
    flags = [f"--{name}-port={port}" for name, port in ports.items()]
    # The option parser takes `--opt VALUE`: split the `=` forms.
    args = [part for flag in flags for part in flag.split("=")]
    done = subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "--root",
            str(root),
            "--tenant",
            TENANT,
            "--domain",
            "localhost",
            "--tls",
            "internal",
            "--no-packages",
            "--no-user",
            "--no-systemd",
            # The environment these tests run in has the project installed already.
            "--use-venv",
            sys.prefix,
            # Started as root, Mosquitto would drop to `mosquitto`, who cannot enter tmp_path.
            "--broker-user",
            getpass.getuser(),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert done.returncode == 0, f"install.sh failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _clean_env() -> dict[str, str]:
    """The environment without SHINSHU_* variables: the TOML file alone configures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}:/usr/sbin:/usr/bin"
    return env


@pytest.fixture
def installed(tmp_path: Path) -> Installed:
    """The script run twice on a fresh tree (the second run must change nothing)."""
    root = tmp_path / "root"
    ports = {name: free_port() for name in PORTS}
    first = install(root, ports)
    secrets = {p: p.read_bytes() for p in root.rglob("*.secret")}
    second = install(root, ports)
    assert not TOKEN.search(second), "a second run made another admin key"
    assert {p: p.read_bytes() for p in root.rglob("*.secret")} == secrets
    return Installed(root, ports, first + second)


@pytest.fixture
def running(installed: Installed, tmp_path: Path) -> Iterator[tuple[list[Path], Path]]:
    """Mosquitto, InfluxDB, the four services and Caddy started from the installed files;
    their logs and the root certificate of Caddy's CA."""
    root, logs = installed.root, []
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, command: list[str], extra: dict[str, str] | None = None) -> None:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        env = {**_clean_env(), **(extra or {})}
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
                )
            )

    start(
        "mosquitto",
        [
            require_binary("mosquitto", "mosquitto"),
            "-c",
            str(root / "etc/mosquitto/mosquitto.conf"),
        ],
    )
    start(
        "influxd",
        [
            require_binary("influxd", "influxdb"),
            "-config",
            str(root / "etc/influxdb/influxdb.conf"),
        ],
    )
    shinshu = [sys.executable, "-m", "shinshu.cli", "--config", str(installed.toml)]
    start("ingest", [*shinshu, "ingest"])
    start("alerts", [*shinshu, "alerts"])
    start("notify", [*shinshu, "notify", "run"])
    start("serve", [*shinshu, "serve", "--port", str(installed.ports["serve"])])
    # Caddy's state (its CA) in the scratch tree; its admin API and plain HTTP on free ports.
    caddy_home = tmp_path / "caddy"
    caddy_env = {
        "HOME": str(caddy_home),
        "XDG_DATA_HOME": str(caddy_home / "data"),
        "XDG_CONFIG_HOME": str(caddy_home / "config"),
        "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
        "CADDY_HTTP_PORT": str(free_port()),
    }
    caddyfile = str(root / "etc/caddy/Caddyfile")
    caddy = [
        require_binary("caddy", "caddy"),
        "run",
        "--config",
        caddyfile,
        "--adapter",
        "caddyfile",
    ]
    start("caddy", caddy, caddy_env)
    try:
        yield logs, caddy_home / "data/caddy/pki/authorities/local/root.crt"
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _ready_over_https(port: int, root_cert: Path) -> bool:
    """Whether /readyz answers 200 through Caddy, its certificate verified against its CA."""
    if not root_cert.exists():
        return False
    context = ssl.create_default_context(cafile=str(root_cert))
    try:
        response = httpx.get(f"https://localhost:{port}/readyz", verify=context, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "max-age" in response.headers.get(
        "strict-transport-security", ""
    )


def test_installed_services_answer_readyz_and_the_first_admin_key_signs_in(
    installed: Installed, running: tuple[list[Path], Path]
) -> None:
    """Every service is ready on the installed configuration, the API also over HTTPS through
    Caddy; the printed key is an admin of the tenant; InfluxDB refuses anonymous queries;
    secrets are private and never printed."""
    logs, root_cert = running
    ports, root = installed.ports, installed.root
    for name in ("ingest-metrics", "alerts-metrics", "notify-metrics", "serve"):
        wait_until(lambda port=ports[name]: _ready(port), 45, f"{name} /readyz")
    wait_until(lambda: _ready_over_https(ports["https"], root_cert), 30, "/readyz over HTTPS")

    tokens = TOKEN.findall(installed.output)
    assert len(tokens) == 1, "the first admin key is printed exactly once"
    serve = f"http://127.0.0.1:{ports['serve']}"
    who = httpx.get(f"{serve}/api/v1/whoami", headers={"X-API-Key": tokens[0]}, timeout=5)
    assert who.status_code == 200, who.text
    assert (who.json()["tenant"], who.json()["role"]) == (TENANT, "admin")
    wrong = httpx.get(f"{serve}/api/v1/whoami", headers={"X-API-Key": "shk_x_y"}, timeout=5)
    assert wrong.status_code == 401

    anonymous = httpx.post(
        f"http://127.0.0.1:{ports['influx']}/query", data={"q": "SHOW DATABASES"}, timeout=5
    )
    assert anonymous.status_code == 401, "InfluxDB must have authentication on"
    platform = ("shinshu", (root / "var/lib/shinshu/secrets/influxdb.secret").read_text().strip())
    own = httpx.post(
        f"http://127.0.0.1:{ports['influx']}/query",
        data={"q": "SHOW MEASUREMENTS", "db": "shinshu"},
        auth=platform,
        timeout=5,
    )
    assert own.status_code == 200 and "error" not in own.json()["results"][0], own.text
    other = httpx.post(
        f"http://127.0.0.1:{ports['influx']}/query",
        data={"q": "CREATE DATABASE other"},
        auth=platform,
        timeout=5,
    )
    assert other.status_code == 403, "the platform's account has rights on its database only"

    secret_files = sorted(root.rglob("*.secret"))
    names = {p.name for p in secret_files}
    assert {"influxdb.secret", "influxdb-admin.secret", "shinshu-ingest.secret"} <= names
    private = [*secret_files, root / "var/lib/mosquitto/dynamic-security.json"]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(installed.toml.stat().st_mode) == 0o640

    for unit in (root / "etc/systemd/system").glob("shinshu-*.service"):
        assert f"--config {installed.toml}" in unit.read_text(), unit
    caddy = (root / "etc/caddy/Caddyfile").read_text()
    assert f"reverse_proxy 127.0.0.1:{ports['serve']}" in caddy

    secrets = {p.read_text().strip() for p in secret_files}
    texts = {
        "settings": installed.toml.read_text(),
        "install output": installed.output,
        **{log.name: log.read_text(errors="replace") for log in logs},
        **{p.name: p.read_text(errors="replace") for p in (root / "var/log").rglob("*.log")},
    }
    for where, text in texts.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"a secret appears in {where}"
    for where, text in texts.items():
        if where != "install output":
            assert tokens[0] not in text, f"the admin key appears in {where}"

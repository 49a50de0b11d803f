"""A local RabbitMQ cluster (tests, benchmarks): three nodes on loopback, in a scratch folder,
on free ports.

Each node runs `rabbitmq-server` directly (not the Debian wrapper, which switches to the
rabbitmq user and drops the environment) with its own ports, data and log folders, the
configuration `identity.rabbit_config.render` ships, and its own epmd port, so that a
system-wide RabbitMQ or epmd does not matter. The nodes share one Erlang cookie through HOME.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from identity.rabbit_config import RabbitLayout, enabled_plugins, render
from shinshu.localservices import ServiceError, free_port

_BIN = Path("/usr/lib/rabbitmq/bin")


@dataclass
class RabbitNode:
    """One node: its name, ports and process."""

    name: str
    folder: Path
    env: dict[str, str]
    amqp_port: int
    mqtt_port: int
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def node(self) -> str:
        """The Erlang node name."""
        return f"{self.name}@localhost"

    def start(self) -> None:
        """Start the node (its data folder kept: a restart rejoins the cluster)."""
        with (self.folder / "server.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [str(_BIN / "rabbitmq-server")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """Run `rabbitmqctl -n node args` and return its output (raise if it fails)."""
        done = subprocess.run(
            [str(_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ServiceError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def await_startup(self) -> None:
        """Wait until the node runs its applications."""
        # `wait` first waits for the pid file, so it works before the node reached epmd.
        self.ctl("wait", "--timeout", "90", self.env["RABBITMQ_PID_FILE"])

    def kill(self) -> None:
        """SIGKILL the whole node (the Erlang VM and its helpers): nothing is flushed."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """Stop the node, and kill it if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class RabbitCluster:
    """Three clustered nodes; devices may use any node's MQTT port, workers any AMQP port."""

    nodes: list[RabbitNode]
    epmd: subprocess.Popen[bytes] | None = None

    @property
    def amqp_url(self) -> str:
        """Every node, as ingest's SHINSHU_AMQP_URL takes them."""
        return "amqp://" + ",".join(f"127.0.0.1:{n.amqp_port}" for n in self.nodes) + "/"

    def stop(self) -> None:
        """Stop every node and the cluster's epmd."""
        for node in self.nodes:
            node.stop()
        if self.epmd is not None:
            self.epmd.kill()
            self.epmd.wait()


def start_cluster(folder: Path, auth_url: str, size: int = 3) -> RabbitCluster:
    """Start `size` nodes in `folder`, asking `auth_url` about every account, and cluster them."""
    home = folder / "home"
    home.mkdir(parents=True)
    cookie = home / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20))
    cookie.chmod(0o400)
    epmd_port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    base.update({"HOME": str(home), "ERL_EPMD_PORT": str(epmd_port), "LANG": "C.UTF-8"})
    # Our own epmd on its own port, so that no system epmd (or another run's) is involved.
    epmd = subprocess.Popen(
        ["epmd", "-port", str(epmd_port)],
        env=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nodes = [_node(folder, f"shinshu{i + 1}", base, auth_url) for i in range(size)]
    cluster = RabbitCluster(nodes, epmd)
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.await_startup()
        for node in nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", nodes[0].node)
            node.ctl("start_app")
        deadline = time.monotonic() + 60
        while nodes[0].ctl("cluster_status").count("@localhost") < 2 * size:
            if time.monotonic() > deadline:
                raise ServiceError("the nodes did not form a cluster")
            time.sleep(0.5)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _node(folder: Path, name: str, base: dict[str, str], auth_url: str) -> RabbitNode:
    """A node's folder, configuration and environment (not started)."""
    here = folder / name
    here.mkdir()
    amqp_port, mqtt_port, dist_port = free_port(), free_port(), free_port()
    layout = RabbitLayout(
        amqp_host="127.0.0.1",
        amqp_port=amqp_port,
        mqtt_host="127.0.0.1",
        mqtt_port=mqtt_port,
        auth_url=auth_url,
    )
    (here / "rabbitmq.conf").write_text(render(layout))
    (here / "enabled_plugins").write_text(enabled_plugins())
    env = dict(base)
    env.update(
        {
            "RABBITMQ_NODENAME": f"{name}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(amqp_port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_CONFIG_FILE": str(here / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(here / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(here / "mnesia"),
            "RABBITMQ_LOG_BASE": str(here / "log"),
            "RABBITMQ_PID_FILE": str(here / "rabbit.pid"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(here / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(here / "rabbitmq-env.conf"),
        }
    )
    return RabbitNode(name, here, env, amqp_port, mqtt_port)

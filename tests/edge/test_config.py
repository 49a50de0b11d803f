"""Agent configuration: the TOML file, environment overrides, remote changes, status, CLI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import add_edge_command
from edge.clock import ClockSource, ClockState
from edge.config import (
    ConfigError,
    DriverKind,
    MqttProtocol,
    RemoteConfig,
    SensorOverride,
    apply_remote,
    load_config,
    parse_remote,
)
from edge.protocol import SensorKind
from edge.spool import SpoolStats
from edge.status import AgentState, ConfigState, ConfigStatus, Health, status_document

EXAMPLE = Path(__file__).parents[2] / "deploy" / "agent.example.toml"

MINIMAL = """
device = "pi-01"
[[sensors]]
name = "air"
driver = "simulated"
kind = "air_temperature"
interval_s = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    """A config file with `text`."""
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_the_example_configuration_loads() -> None:
    """deploy/agent.example.toml is valid and names one sensor per driver."""
    config = load_config(EXAMPLE, env={})
    assert config.device == "pi-07"
    assert {s.driver for s in config.sensors} == set(DriverKind)
    assert config.spool_max_bytes == 256 * 1024 * 1024
    assert config.clock_source is ClockSource.AUTO
    bme = next(s for s in config.sensors if s.driver is DriverKind.BME280)
    assert bme.kinds == (SensorKind.AIR_TEMPERATURE, SensorKind.RELATIVE_HUMIDITY)
    assert bme.options["address"] == 0x76


def test_environment_overrides_the_file_and_keeps_the_password_out_of_repr(tmp_path: Path) -> None:
    """SHINSHU_<KEY> wins over the file; typed from strings; the broker URL is not printed."""
    env = {
        "SHINSHU_MQTT_URL": "mqtt://pi:s3cret@broker:1883",
        "SHINSHU_INFLIGHT": "7",
        "SHINSHU_DRAIN_RATE": "2.5",
        "SHINSHU_JOURNAL": "/tmp/j.tsv",
    }
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert (config.inflight, config.drain_rate) == (7, 2.5)
    assert config.journal == Path("/tmp/j.tsv")
    assert config.sensors[0].interval_s == 2.0
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("raw", "protocol"), [("3.1.1", MqttProtocol.V311), ("5", MqttProtocol.V5)]
)
def test_the_mqtt_protocol_is_read_from_the_file_and_the_environment(
    tmp_path: Path, raw: str, protocol: MqttProtocol
) -> None:
    """MQTT 3.1.1 (for RabbitMQ 3.10) or 5, as a TOML string or a SHINSHU_MQTT_PROTOCOL value."""
    from_file = load_config(write(tmp_path, f'mqtt_protocol = "{raw}"\n' + MINIMAL), env={})
    from_env = load_config(write(tmp_path, MINIMAL), env={"SHINSHU_MQTT_PROTOCOL": raw})
    assert from_file.mqtt_protocol is protocol
    assert from_env.mqtt_protocol is protocol
    assert load_config(write(tmp_path, MINIMAL), env={}).mqtt_protocol is MqttProtocol.V5


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("bogus = 1\n" + MINIMAL, "unknown settings"),
        (MINIMAL.replace('device = "pi-01"', 'device = "a/b"'), "reserve"),
        (MINIMAL.replace('device = "pi-01"', ""), "device is not set"),
        ("inflight = 0\n" + MINIMAL, "inflight must be within"),
        (MINIMAL.replace("interval_s = 2", "interval_s = -1"), "interval_s"),
        (MINIMAL.replace('"simulated"', '"dht22"'), "not one of"),
        (MINIMAL.replace('"air_temperature"', '"pressure"'), "not one of"),
        (MINIMAL + '[[sensors]]\nname = "air"\ndriver = "simulated"\n', "unique"),
        ('keepalive_s = "soon"\n' + MINIMAL, "keepalive_s: cannot read"),
        ('device = "x"\n', "at least one"),
        ("device = [", "cannot read"),
        ('mqtt_protocol = "3.1"\n' + MINIMAL, "not one of"),
    ],
)
def test_invalid_configuration_is_refused_with_the_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    """Each mistake names itself."""
    with pytest.raises(ConfigError, match=reason):
        load_config(write(tmp_path, text), env={})


def test_remote_config_changes_intervals_and_enablement_only() -> None:
    """A valid message overrides the named sensors; others keep the file's settings."""
    config = load_config(EXAMPLE, env={})
    names = frozenset(s.name for s in config.sensors)
    remote = parse_remote(
        b'{"rev": 4, "sensors": {"air": {"interval_s": 5}, "sim-moisture": {"enabled": true}}}',
        names,
    )
    assert remote == RemoteConfig(
        4, {"air": SensorOverride(interval_s=5.0), "sim-moisture": SensorOverride(enabled=True)}
    )
    applied = {s.name: s for s in apply_remote(config.sensors, remote)}
    assert applied["air"].interval_s == 5.0
    assert applied["sim-moisture"].enabled is True
    assert applied["bin-1"] == next(s for s in config.sensors if s.name == "bin-1")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "object"),
        (b'{"rev": -1}', "rev"),
        (b'{"rev": 1, "extra": 2}', "unknown config keys"),
        (b'{"sensors": {"nope": {"enabled": true}}}', "no sensor named"),
        (b'{"sensors": {"air": {"interval_s": 0}}}', "interval_s"),
        (b'{"sensors": {"air": {"interval_s": "5"}}}', "interval_s"),
        (b'{"sensors": {"air": {"enabled": "yes"}}}', "enabled"),
        (b'{"sensors": {"air": {"driver": "hx711"}}}', "only interval_s and enabled"),
    ],
)
def test_invalid_remote_config_is_refused(payload: bytes, reason: str) -> None:
    """Remote input never changes drivers or options, and is checked like the file."""
    with pytest.raises(ConfigError, match=reason):
        parse_remote(payload, frozenset({"air"}))


def test_status_document_reports_spool_sensors_clock_and_config() -> None:
    """The retained status carries everything an operator needs to see from afar."""
    config = load_config(EXAMPLE, env={})
    health = Health([s.name for s in config.sensors])
    health.ok("air", 1_000, 2)
    health.failed("soil-10cm", 2_000, "CRC check failed")
    health.config = ConfigStatus(ConfigState.REJECTED, 3, "no sensor named 'x'")
    doc = json.loads(
        status_document(
            device=config.device,
            state=AgentState.ONLINE,
            now_ms=5_000,
            clock=ClockState.UNSYNCED,
            spool=SpoolStats(readings=12, bytes=700, dropped=4, unacked_batches=1),
            spool_max_bytes=config.spool_max_bytes,
            sensors=config.sensors,
            health=health,
        )
    )
    assert doc["state"] == "online"
    assert doc["clock"] == "unsynced"
    assert doc["spool"]["dropped"] == 4
    assert doc["spool"]["bytes"] == 700
    assert doc["sensors"]["soil-10cm"]["last_error"] == "CRC check failed"
    assert doc["sensors"]["air"]["readings"] == 2
    assert doc["config"] == {"state": "rejected", "rev": 3, "error": "no sensor named 'x'"}
    assert doc["version"]


def test_agent_import_graph_has_no_server_dependencies() -> None:
    """`pip install 'shinshu-iot[edge]'` suffices: no numpy or httpx behind the agent."""
    code = (
        "import sys, edge.cli, edge.agent, edge.drivers.simulated, edge.drivers.ds18b20, "
        "edge.drivers.bme280, edge.drivers.hx711\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'httpx', 'sklearn', 'prometheus_client', 'shinshu', 'ingest', 'simulators'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_edge_subcommand_registers_on_the_shinshu_parser() -> None:
    """The lead's `shinshu` parser gets `edge --config FILE`, not clashing with the global flag."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path)
    add_edge_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["edge", "--config", "agent.toml"])
    assert args.edge_config == Path("agent.toml")
    assert args.config is None
    assert callable(args.handler)


def test_cli_reports_a_bad_file_and_exits_2(tmp_path: Path) -> None:
    """A broken configuration stops the agent before it starts, with the reason."""
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(write(tmp_path, "device = 1\n"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "device" in result.stderr

"""A real edge agent (`python -m edge.cli`) for browser tests, publishing to the test broker.

The device gets its own broker account from the broker's registry, as a registered device
does; its readings go through the real pipeline (Mosquitto → ingest → InfluxDB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from support import Services


@dataclass
class EdgeAgent:
    """One agent process of `tenant`/`site`/`device` with simulated sensors."""

    folder: Path
    tenant: str
    site: str
    device: str
    sensors: list[dict[str, object]]
    proc: subprocess.Popen[bytes] | None = field(default=None)

    def start(self, services: Services) -> EdgeAgent:
        """Register the device on the broker, write its configuration and start it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        secret = services.device_account(self.tenant, self.site, self.device, self.folder)
        settings: dict[str, object] = {
            "device": self.device,
            "tenant": self.tenant,
            "site": self.site,
            "mqtt_url": services.broker.url,
            "mqtt_password_file": str(secret),
            "data_dir": str(self.folder / "data"),
            "batch_linger_s": 0.2,
            "backoff_base_s": 0.2,
            "backoff_cap_s": 2.0,
            "status_interval_s": 2.0,
            "keepalive_s": 5,
            "drain_rate": 200.0,
        }
        lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        for sensor in self.sensors:
            lines.append("[[sensors]]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in sensor.items())
        config = self.folder / "agent.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSHU_")}
        env["PYTHONUNBUFFERED"] = "1"
        with (self.folder / "agent.log").open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "--config", str(config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def logs(self) -> str:
        """What the agent printed."""
        path = self.folder / "agent.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then kill if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

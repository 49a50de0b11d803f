"""The edge agent fits a Pi Zero: its modules need only paho-mqtt and the standard library."""

from __future__ import annotations

import subprocess
import sys

# Run in a fresh interpreter that refuses every third-party import except paho (the
# project's own modules may load as long as they import nothing else).
_PROBE = """
import importlib.abc, sys
project = {
    "edge", "core", "storage", "shinshu", "ingest", "models", "dashboard", "simulators",
    "alerting", "identity", "evaluation", "notify",
}
allowed = set(sys.stdlib_module_names) | project | {"paho", "_distutils_hack"}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in allowed:
            raise ImportError(f"the edge agent must not need {name}")
        return None
sys.meta_path.insert(0, Refuse())
import edge.protocol, edge.mqtt, edge.agent, edge.cli, shinshu.cli
shinshu.cli.build_parser()
print("ok")
"""


def test_edge_modules_import_without_server_dependencies() -> None:
    """Importing the agent's modules pulls in no numpy, httpx or other server package."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

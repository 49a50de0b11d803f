"""DS18B20 temperature sensor on the 1-Wire bus, through the kernel's w1-therm sysfs files.

Enable with `dtoverlay=w1-gpio` in /boot/firmware/config.txt. Each sensor appears as
`/sys/bus/w1/devices/28-<serial>/w1_slave`, whose two lines end in the CRC check (`YES`/`NO`)
and `t=<millidegrees>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from edge.drivers.base import Driver, DriverError
from edge.protocol import SensorKind

W1_DEVICES = Path("/sys/bus/w1/devices")
# The value a DS18B20 holds after power-on before its first conversion: not a measurement.
POWER_ON_RESET_MILLI_C = 85_000


class DS18B20(Driver):
    """One DS18B20; `serial` picks it when several share the bus (default: the only one)."""

    kinds = (SensorKind.AIR_TEMPERATURE, SensorKind.SOIL_TEMPERATURE)

    def __init__(
        self,
        kind: SensorKind = SensorKind.SOIL_TEMPERATURE,
        *,
        serial: str | None = None,
        root: str | Path = W1_DEVICES,
    ) -> None:
        """`kind` says where the probe sits (soil or air); `root` is injectable for tests."""
        if kind not in self.kinds:
            raise DriverError(f"a DS18B20 measures temperature, not {kind.value}")
        self.kind = kind
        self.serial = serial
        self.root = Path(root)

    def _path(self) -> Path:
        """The sensor's w1_slave file (looked up on each read: the bus may re-enumerate)."""
        if self.serial is not None:
            return self.root / self.serial / "w1_slave"
        found = sorted(self.root.glob("28-*/w1_slave"))
        if len(found) != 1:
            raise DriverError(
                f"expected one DS18B20 under {self.root}, found {len(found)}; set options.serial"
            )
        return found[0]

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """Read the last conversion; a CRC failure or the power-on value is an error."""
        path = self._path()
        try:
            text = path.read_text()
        except OSError as exc:
            raise DriverError(f"cannot read {path}: {exc.strerror or exc}") from exc
        lines = text.strip().splitlines()
        if len(lines) != 2 or not lines[0].endswith("YES"):
            raise DriverError(f"DS18B20 {path.parent.name}: CRC check failed")
        _, sep, milli = lines[1].rpartition("t=")
        try:
            value = int(milli)
        except ValueError as exc:
            raise DriverError(f"DS18B20 {path.parent.name}: unreadable value {milli!r}") from exc
        if not sep or value == POWER_ON_RESET_MILLI_C:
            raise DriverError(f"DS18B20 {path.parent.name}: no conversion yet (power-on value)")
        return {self.kind: value / 1000.0}
